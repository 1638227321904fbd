import { z } from 'zod';
import { PERMISSIONS } from '../access/matrix.ts';
import { ERRORS } from '../errors/index.ts';
import type { RouteDef } from './route.ts';

const toSchema = (s: z.ZodType, io: 'input' | 'output') => z.toJSONSchema(s, { target: 'openapi-3.0', io, unrepresentable: 'any' });

/** OpenAPI 3.0 document built from the same route table and schemas that validate requests. */
export function openApiDocument(routes: RouteDef[], version: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.path.replace(/:([A-Za-z]+)/g, '{$1}');
    const parameters: unknown[] = [];
    for (const [where, schema] of [['path', r.params], ['query', r.query]] as const) {
      if (!schema) continue;
      const js = toSchema(schema, 'input') as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, s] of Object.entries(js.properties ?? {})) {
        parameters.push({ name, in: where, required: where === 'path' || (js.required ?? []).includes(name), schema: s });
      }
    }
    if (r.permission && PERMISSIONS[r.permission].level === 'workspace') {
      parameters.push({
        name: 'workspace',
        in: 'query',
        required: false,
        description: "Workspace id or name; default: the token's own workspace, or `default` for an organization token.",
        schema: { type: 'string', example: 'data-eng' },
      });
    }
    if (r.ifMatch) {
      parameters.push({
        name: 'If-Match',
        in: 'header',
        required: false,
        description: `The ETag of the version the change is based on (the same as \`version\` in the ${r.ifMatch}); a different current version is refused with 412 ERR_PRECONDITION_FAILED.`,
        schema: { type: 'string', example: '"3"' },
      });
    }
    const status = String(r.status ?? 200);
    const op: Record<string, unknown> = {
      summary: r.summary,
      tags: [r.tag],
      operationId: `${r.method.toLowerCase()}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      parameters,
      responses: {
        [status]: status === '204' ? { description: 'No content' } : { description: 'OK', content: { [r.contentType ?? 'application/json']: { schema: toSchema(r.response, 'output') } } },
        default: { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
      },
    };
    if (r.body) {
      const type = r.bodyFormat === 'form' ? 'application/x-www-form-urlencoded' : 'application/json';
      op.requestBody = { required: !r.body.safeParse(undefined).success, content: { [type]: { schema: toSchema(r.body, 'input') } } };
    }
    if (r.permission) op['x-airlock-permission'] = r.permission;
    if (r.auth === 'token') op.security = [{ bearer: [] }];
    else if (r.auth === 'workload') op.security = [{ workload: [] }];
    else op.security = [];
    (paths[path] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.0.3',
    info: { title: 'Airlock API', version, description: 'Workload identity for data pipelines.' },
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An Airlock API token (alk_…).' },
        workload: { type: 'http', scheme: 'bearer', description: "A workload's join credential (alj_…) or its pod's service-account token." },
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: { type: 'string', enum: Object.keys(ERRORS) },
                message: { type: 'string' },
                field: { type: 'string' },
                example: {},
                details: { type: 'object' },
              },
            },
          },
        },
      },
    },
  };
}
