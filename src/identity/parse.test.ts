import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseWorkloadIdentity } from './parse.ts';

const accepted: { input: string | null; expect: ReturnType<typeof parseWorkloadIdentity> }[] = [
  { input: null, expect: { kind: 'default' } },
  { input: 'default', expect: { kind: 'default' } },
  { input: 'arn:aws:iam::123456789012:role/etl-reader', expect: { kind: 'customer', identity: { cloud: 'aws', roleArn: 'arn:aws:iam::123456789012:role/etl-reader' } } },
  { input: 'arn:aws:iam::123456789012:role/data/team/etl-reader', expect: { kind: 'customer', identity: { cloud: 'aws', roleArn: 'arn:aws:iam::123456789012:role/data/team/etl-reader' } } },
  { input: 'arn:aws-cn:iam::123456789012:role/r+=,.@_-', expect: { kind: 'customer', identity: { cloud: 'aws', roleArn: 'arn:aws-cn:iam::123456789012:role/r+=,.@_-' } } },
  { input: 'arn:aws-us-gov:iam::123456789012:role/x', expect: { kind: 'customer', identity: { cloud: 'aws', roleArn: 'arn:aws-us-gov:iam::123456789012:role/x' } } },
  { input: 'lake-reader@my-proj.iam.gserviceaccount.com', expect: { kind: 'customer', identity: { cloud: 'gcp', serviceAccountEmail: 'lake-reader@my-proj.iam.gserviceaccount.com' } } },
  { input: 'etl-reader', expect: { kind: 'saved', name: 'etl-reader' } },
];

const refused: { name: string; input: string; mentions: RegExp }[] = [
  { name: 'an IAM user', input: 'arn:aws:iam::123456789012:user/bob', mentions: /not a role ARN/ },
  { name: 'an 11-digit account', input: 'arn:aws:iam::12345678901:role/x', mentions: /12-digit/ },
  { name: 'a regional ARN', input: 'arn:aws:iam:us-east-1:123456789012:role/x', mentions: /IAM ARN/ },
  { name: 'an unknown partition', input: 'arn:aws-eu:iam::123456789012:role/x', mentions: /partition/ },
  { name: 'an STS assumed-role ARN', input: 'arn:aws:sts::123456789012:assumed-role/x/s', mentions: /IAM ARN/ },
  { name: 'a role name over 64 characters', input: `arn:aws:iam::123456789012:role/${'r'.repeat(65)}`, mentions: /role name/ },
  { name: 'a personal email', input: 'bob@example.com', mentions: /iam\.gserviceaccount\.com/ },
  { name: 'a too-short account id (Google requires 6–30)', input: 'lake@my-proj.iam.gserviceaccount.com', mentions: /account id "lake" \(4 characters\).*6–30/ },
  { name: 'a bad project id', input: 'lake-reader@My_Proj.iam.gserviceaccount.com', mentions: /project id "My_Proj"/ },
  { name: 'an upper-case name', input: 'ETL-Reader', mentions: /not a workload identity/ },
  { name: 'a name with spaces', input: 'etl reader', mentions: /not a workload identity/ },
];

describe('--workload-identity values', () => {
  for (const c of accepted) {
    it(`accepts ${JSON.stringify(c.input)}`, () => assert.deepEqual(parseWorkloadIdentity(c.input), c.expect));
  }
  for (const c of refused) {
    it(`refuses ${c.name}, listing the four accepted forms`, () => {
      assert.throws(
        () => parseWorkloadIdentity(c.input),
        (e: { code: string; field: string; message: string; example: string[] }) => {
          assert.equal(e.code, 'ERR_VALIDATION');
          assert.equal(e.field, 'workloadIdentity');
          assert.match(e.message, c.mentions);
          for (const form of ['IAM role ARN', 'service account email', 'saved identity', 'default']) assert.match(e.message, new RegExp(form));
          assert.equal(e.example.length, 4);
          return true;
        },
      );
    });
  }
});
