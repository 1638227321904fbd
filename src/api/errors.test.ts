import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { AppError } from '../errors/index.ts';
import { inRequestTerms } from './errors.ts';

describe('inRequestTerms: domain field names become request paths', () => {
  const route = {
    params: z.object({ cluster: z.string() }),
    query: z.object({ cursor: z.string().optional(), wildcard: z.boolean().optional() }),
    body: z.union([z.object({ name: z.string(), azure: z.object({ clientId: z.string() }).optional() }), z.object({ awsRoleArn: z.string() })]).optional(),
  };
  const cases: [string, AppError, string | undefined][] = [
    ['a body field', new AppError('ERR_CONFLICT', 'taken', { field: 'name' }), 'body.name'],
    ['a nested body field, through a union and an optional', new AppError('ERR_VALIDATION', 'x', { field: 'azure.clientId' }), 'body.azure.clientId'],
    ['the other branch of the union', new AppError('ERR_VALIDATION', 'x', { field: 'awsRoleArn' }), 'body.awsRoleArn'],
    ['a query field', new AppError('ERR_VALIDATION', 'x', { field: 'cursor' }), 'query.cursor'],
    ['a path parameter', new AppError('ERR_VALIDATION', 'x', { field: 'cluster' }), 'params.cluster'],
    ['a not-found names the resource, not where it was sent', new AppError('ERR_NOT_FOUND', 'x', { field: 'cluster' }), 'cluster'],
    ['a name in no input stays as it is', new AppError('ERR_CONFLICT', 'x', { field: 'namespace' }), 'namespace'],
    ['a request path already', new AppError('ERR_VALIDATION', 'x', { field: 'body.name' }), 'body.name'],
    ['no field', new AppError('ERR_RULE_VIOLATION', 'x'), undefined],
  ];
  for (const [name, err, want] of cases) {
    it(name, () => {
      const out = inRequestTerms(err, route);
      assert.equal(out.field, want);
      assert.equal(out.code, err.code);
      assert.equal(out.message, err.message);
    });
  }
  it('keeps the example and the details', () => {
    const out = inRequestTerms(new AppError('ERR_RULE_VIOLATION', 'full', { field: 'name', example: 'etl-2', details: { deployments: ['a'] } }), route);
    assert.deepEqual([out.field, out.example, out.details], ['body.name', 'etl-2', { deployments: ['a'] }]);
  });
});
