import { z } from 'zod';
import { AppError, isAppError, type ErrorCode } from '../errors/index.ts';

/** The error body every failure has. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; field?: string; example?: unknown; details?: Record<string, unknown> };
}

export function errorBody(err: AppError): ErrorBody {
  const e: ErrorBody['error'] = { code: err.code, message: err.message };
  if (err.field !== undefined) e.field = err.field;
  if (err.example !== undefined) e.example = err.example;
  if (err.details !== undefined) e.details = err.details;
  return { error: e };
}

/**
 * The parts of a zod v4 schema this file reads. zod types its definitions per kind; walking
 * through any kind needs one loose view of them.
 */
interface LooseSchema {
  _zod?: { def?: LooseDef };
  meta?: () => Record<string, unknown> | undefined;
}
interface LooseDef {
  type: string;
  innerType?: LooseSchema;
  in?: LooseSchema;
  options?: LooseSchema[];
  shape?: Record<string, LooseSchema>;
  element?: LooseSchema;
  valueType?: LooseSchema;
}
const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional']);

/** Finds the schema at a path inside `root`, looking through optional/default/nullable/pipe wrappers. */
function schemaAt(root: z.ZodType | undefined, path: PropertyKey[]): z.ZodType | undefined {
  const found = looseSchemaAt(root as LooseSchema | undefined, path);
  return found as z.ZodType | undefined;
}

function looseSchemaAt(root: LooseSchema | undefined, path: PropertyKey[]): LooseSchema | undefined {
  let cur = root;
  const unwrap = (start: LooseSchema | undefined): LooseSchema | undefined => {
    let s = start;
    for (let i = 0; i < 10 && s; i++) {
      const def = s._zod?.def;
      if (!def) return s;
      if (WRAPPERS.has(def.type)) s = def.innerType;
      else if (def.type === 'pipe') s = def.in;
      else return s;
    }
    return s;
  };
  for (const [i, key] of path.entries()) {
    cur = unwrap(cur);
    const def = cur?._zod?.def;
    if (!def) return undefined;
    if (def.type === 'union') {
      for (const option of def.options ?? []) {
        const found = looseSchemaAt(option, path.slice(i));
        if (found) return found;
      }
      return undefined;
    }
    if (def.type === 'object') cur = def.shape?.[key as string];
    else if (def.type === 'array') cur = def.element;
    else if (def.type === 'record') cur = def.valueType;
    else return undefined;
  }
  return cur;
}

/** The first `example` recorded with `.meta()` on the schema or any of its wrappers. */
function exampleOf(schema: z.ZodType | undefined): unknown {
  let s = schema as LooseSchema | undefined;
  for (let i = 0; i < 10 && s; i++) {
    const m = typeof s.meta === 'function' ? s.meta() : undefined;
    if (m && 'example' in m) return m.example;
    const def = s._zod?.def;
    s = def?.innerType ?? def?.in;
  }
  return undefined;
}

/**
 * Turns a zod failure on one part of the request into an AppError naming the first field at
 * fault, with an example of the accepted form; every issue is listed in `details.issues`.
 */
export function validationError(where: 'params' | 'query' | 'body', schema: z.ZodType, err: z.ZodError): AppError {
  const issues = err.issues.map((i) => ({ field: [where, ...i.path.map(String)].join('.'), message: i.message }));
  const first = err.issues[0]!;
  if (first.code === 'unrecognized_keys') {
    const shape = looseSchemaAt(schema as LooseSchema, first.path)?._zod?.def?.shape;
    const accepted = shape ? Object.keys(shape) : undefined;
    const key = first.keys[0]!;
    return new AppError('ERR_UNKNOWN_FIELD', `unknown field "${key}"${accepted ? `; accepted fields: ${accepted.join(', ')}` : ''}`, {
      field: [where, ...first.path.map(String), key].join('.'),
      example: accepted,
      details: { issues },
    });
  }
  const field = [where, ...first.path.map(String)].join('.');
  const example = exampleOf(schemaAt(schema, first.path));
  const opts: ConstructorParameters<typeof AppError>[2] = { field, details: { issues } };
  if (example !== undefined) opts.example = example;
  return new AppError('ERR_VALIDATION', `${field}: ${first.message}`, opts);
}

/** Maps framework-level failures (bad JSON, wrong content type, …) to catalogue errors. */
export function frameworkError(err: unknown): AppError | undefined {
  if (isAppError(err)) return err;
  if (err instanceof z.ZodError) return validationError('body', z.any(), err);
  const code = (err as { code?: string })?.code;
  const status = (err as { statusCode?: number })?.statusCode;
  switch (code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('ERR_MALFORMED_JSON', 'request body is not valid JSON', { field: 'body', example: { name: 'prod-aws' }, cause: err });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('ERR_UNSUPPORTED_MEDIA_TYPE', 'send the request body as application/json', { field: 'content-type', example: 'application/json', cause: err });
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('ERR_BODY_TOO_LARGE', 'request body is too large', { field: 'body', cause: err });
  }
  if (status !== undefined && status >= 400 && status < 500) {
    return new AppError('ERR_VALIDATION', (err as Error).message || 'bad request', { cause: err });
  }
  return undefined;
}

/**
 * Domain code names the input at fault by its own name (`name`, `kubernetesIssuerUrl`,
 * `cursor`); the caller is told where it sent it (`body.name`, `query.cursor`). A name that is in
 * none of the route's inputs (a resource reference such as `cluster` on a not-found) stays as it is.
 */
export function inRequestTerms(err: AppError, inputs: { params?: z.ZodType | undefined; query?: z.ZodType | undefined; body?: z.ZodType | undefined }): AppError {
  const field = err.field;
  if (field === undefined || err.code === 'ERR_NOT_FOUND' || /^(params|query|body)(\.|$)/.test(field)) return err;
  const top = field.split(/[.[]/)[0]!;
  for (const where of ['params', 'query', 'body'] as const) {
    const schema = inputs[where];
    if (schema && schemaAt(schema, [top])) {
      return new AppError(err.code, err.message, { field: `${where}.${field}`, example: err.example, cause: err.cause, details: err.details });
    }
  }
  return err;
}
