import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { maskDatabaseUrl } from './mask.ts';

describe('maskDatabaseUrl', () => {
  const cases: [string, string, string][] = [
    ['user and password', 'postgres://airlock:s3cret@db:5432/airlock', 'postgres://airlock:****@db:5432/airlock'],
    ['password without user', 'postgres://:s3cret@db/airlock', 'postgres://:****@db/airlock'],
    ['percent-encoded password', 'postgresql://airlock:p%40ss%2Fw@db/airlock', 'postgresql://airlock:****@db/airlock'],
    ['an unencoded @ in the password', 'postgres://airlock:p@ss@db/airlock', 'postgres://airlock:****@db/airlock'],
    ['password query parameter', 'postgres://db/airlock?user=airlock&password=s3cret&sslmode=require', 'postgres://db/airlock?user=airlock&password=****&sslmode=require'],
    ['sslpassword, and a key in another case', 'postgres://db/airlock?sslpassword=k3y&PassWord=s3cret', 'postgres://db/airlock?sslpassword=****&PassWord=****'],
    ['an encoded parameter name', 'postgres://db/airlock?pass%77ord=s3cret', 'postgres://db/airlock?pass%77ord=****'],
    ['both places at once', 'postgres://u:one@db/x?password=two', 'postgres://u:****@db/x?password=****'],
    ['no password anywhere: unchanged', 'postgres://airlock@db:5432/airlock?sslmode=verify-full', 'postgres://airlock@db:5432/airlock?sslmode=verify-full'],
    ['unparseable: the scheme only', 'postgres://u:s3cret@[::1/db', 'postgres://****'],
  ];
  for (const [name, input, want] of cases) {
    it(name, () => {
      const got = maskDatabaseUrl(input);
      assert.equal(got, want);
      for (const secret of ['s3cret', 'one', 'two', 'k3y', 'p%40ss', 'p@ss@']) assert.equal(got.includes(secret), false, `${secret} is not shown`);
    });
  }
});
