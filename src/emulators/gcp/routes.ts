/**
 * The GCP sandbox's HTTP surface. The only file of the emulator that knows fastify: handlers
 * unpack the request, call the plain modules and render their errors in the shape of the API
 * being imitated (OAuth for STS, google.rpc.Status for Google APIs, Airlock's own for the admin
 * API).
 *
 * Registered as an encapsulated plugin: the form parser and error handlers below apply only to
 * these routes, so the instance can be shared with the other clouds' emulators (AWS owns `POST /`).
 */
import type { FastifyError, FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import { errorBody, frameworkError } from '../../api/errors.ts';
import { AppError, isAppError } from '../../errors/index.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import type { OidcVerifier } from '../shared/oidc-verifier.ts';
import { GoogleApiError, invalidArgument, notFound, SANDBOX_WHOAMI, StsError } from './errors.ts';
import { generateAccessToken } from './iam-credentials.ts';
import { getProject, tokenInfo, whoami } from './identity.ts';
import type { GcpState, PolicyResource } from './state.ts';
import { exchangeToken, type StsRequest } from './sts.ts';
import type { TokenStore } from './tokens.ts';

/** Everything the routes hand to the plain modules. */
export interface GcpRouteDeps {
  state: GcpState;
  tokens: TokenStore;
  verifier: OidcVerifier;
  clock: Clock;
  /** Where unexpected failures (the 500s) are logged; without it, the request's fastify logger. */
  logger?: Logger | undefined;
}

const FORM = 'application/x-www-form-urlencoded';
/** STS requests are a few kilobytes; a subject token is rarely over 4 KB. */
const FORM_BODY_LIMIT = 64 * 1024;
const DETAIL_HEADER = 'airlock-sandbox-detail';

/** Splits `name:verb` (Google's custom-method syntax) at the last colon. */
function splitVerb(s: string): [string, string | undefined] {
  const i = s.lastIndexOf(':');
  return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
}

/** Header values are single-line ASCII; details may quote token content. */
const headerSafe = (s: string) => s.replace(/[^\x20-\x7e]/g, '?').slice(0, 500);

/**
 * Logs a failure the client sees only as a 500. Method, path and request id go with the cause;
 * bodies, headers and the query string never do (they carry tokens: tokeninfo takes its access
 * token as `?access_token=`).
 */
type LogFailure = (req: FastifyRequest, err: unknown, what: string) => void;

function failureLogger(logger: Logger | undefined): LogFailure {
  return (req, err, what) => {
    const fields = { method: req.method, url: req.url.split('?')[0], requestId: req.id, err };
    if (logger) logger.error(`gcp sandbox: ${what}`, fields);
    else req.log.error(fields, `gcp sandbox: ${what}`);
  };
}

function sendStsError(logFailure: LogFailure, err: unknown, req: FastifyRequest, reply: FastifyReply): void {
  if (err instanceof StsError) {
    if (err.detail) void reply.header(DETAIL_HEADER, headerSafe(err.detail));
    void reply.status(err.httpStatus).send(err.toBody());
    return;
  }
  const fe = err as FastifyError;
  if (fe.statusCode && fe.statusCode < 500) {
    // Not a form, or a body too large: still an OAuth error, so clients show it properly.
    void reply.status(400).send({ error: 'invalid_request', error_description: `The request body could not be read: ${fe.message}` });
    return;
  }
  logFailure(req, err, 'token exchange failed');
  void reply.status(500).send({ error: 'server_error', error_description: 'Internal error.' });
}

function sendGoogleError(logFailure: LogFailure, err: unknown, req: FastifyRequest, reply: FastifyReply): void {
  let e: GoogleApiError;
  if (err instanceof GoogleApiError) e = err;
  else if ((err as FastifyError).statusCode !== undefined && (err as FastifyError).statusCode! < 500) {
    e = invalidArgument(`Invalid JSON payload received. ${(err as Error).message}`);
  } else {
    logFailure(req, err, 'request failed');
    e = new GoogleApiError(500, 'INTERNAL', 'Internal error encountered.');
  }
  for (const [k, v] of Object.entries(e.headers)) void reply.header(k, v);
  if (e.detail) void reply.header(DETAIL_HEADER, headerSafe(e.detail));
  void reply.status(e.code).send(e.toBody());
}

/**
 * The state names an input's fields relative to the input (`poolId`, `oidc.issuerUri`, `member`,
 * `(root)` for the input as a whole), and anything else by its place in the sandbox's document
 * (`projects[0]…`, as GET config shows it and as a config file is reported; no element an admin
 * request sends has a `projects` key). An admin request's input is its body: say so, as Airlock's
 * API does (`body.poolId`).
 */
function bodyField(field: string): string {
  if (field.startsWith('projects[')) return field;
  return field === '(root)' ? 'body' : field.startsWith('[') ? `body${field}` : `body.${field}`;
}

function inRequestBody(err: AppError): AppError {
  if ((err.code !== 'ERR_VALIDATION' && err.code !== 'ERR_CONFIG_INVALID') || err.field === undefined) return err;
  const problems = err.details?.problems as { field: string; message: string }[] | undefined;
  const details = problems ? { ...err.details, problems: problems.map((p) => ({ ...p, field: bodyField(p.field) })) } : err.details;
  return new AppError(err.code, err.message, { field: bodyField(err.field), example: err.example, cause: err.cause, details });
}

function sendAdminError(logFailure: LogFailure, err: unknown, req: FastifyRequest, reply: FastifyReply): void {
  const mapped = isAppError(err) ? inRequestBody(err) : frameworkError(err);
  if (mapped?.expose) {
    void reply.status(mapped.status).send(errorBody(mapped));
    return;
  }
  logFailure(req, err, 'admin request failed');
  void reply.status(500).send({ error: { code: 'ERR_INTERNAL', message: 'internal error' } });
}

function parseForm(body: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (const [k, v] of new URLSearchParams(body)) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

type Params = Record<string, string>;

/** Builds the plugin; `createGcpEmulator` is the public way in. */
export function gcpRoutes(d: GcpRouteDeps): FastifyPluginCallback {
  const logFailure = failureLogger(d.logger);
  const stsErrors = (err: unknown, req: FastifyRequest, reply: FastifyReply) => sendStsError(logFailure, err, req, reply);
  const googleErrors = (err: unknown, req: FastifyRequest, reply: FastifyReply) => sendGoogleError(logFailure, err, req, reply);
  const adminErrors = (err: unknown, req: FastifyRequest, reply: FastifyReply) => sendAdminError(logFailure, err, req, reply);
  return (app: FastifyInstance, _opts, done) => {
    // Every route names its own error handler; this one catches a route that does not (tokeninfo),
    // so that no failure falls through to the host's fastify logger, which the sandbox keeps off.
    app.setErrorHandler(googleErrors);
    // Our own form parser, in this plugin's context only: another emulator may have registered a
    // different one on the shared instance, and this one must not leak out to theirs.
    if (app.hasContentTypeParser(FORM)) app.removeContentTypeParser(FORM);
    app.addContentTypeParser(FORM, { parseAs: 'string', bodyLimit: FORM_BODY_LIMIT }, (_req, body, done) => {
      done(null, parseForm(body as string));
    });

    // --- Security Token Service ---------------------------------------------------------------
    app.post('/v1/token', { errorHandler: stsErrors }, async (req, reply) => {
      const body = req.body;
      if (body === null || typeof body !== 'object' || Array.isArray(body)) {
        throw new StsError('invalid_request', 'The request must be a form (application/x-www-form-urlencoded) or a JSON object.');
      }
      const res = await exchangeToken(d, body as StsRequest);
      return reply.header('cache-control', 'no-store').send(res);
    });

    // --- IAM Service Account Credentials ------------------------------------------------------
    app.post('/v1/projects/:project/serviceAccounts/:nameAndVerb', { errorHandler: googleErrors }, async (req, reply) => {
      const p = req.params as Params;
      const [account, verb] = splitVerb(p.nameAndVerb!);
      if (verb !== 'generateAccessToken') {
        throw notFound(`The sandbox implements only :generateAccessToken on service accounts, not ${verb ? `:${verb}` : 'this path'}.`);
      }
      const res = generateAccessToken(d, { project: p.project!, account, authorization: req.headers.authorization, body: req.body });
      return reply.header('cache-control', 'no-store').send(res);
    });

    // --- Cloud Resource Manager (for client libraries' getProjectId) -------------------------
    app.get('/v1/projects/:project', { errorHandler: googleErrors }, (req) => {
      return getProject(d, (req.params as Params).project!, req.headers.authorization);
    });

    // --- tokeninfo ---------------------------------------------------------------------------
    app.get('/oauth2/v3/tokeninfo', async (req, reply) => {
      const q = req.query as Record<string, unknown>;
      const token = typeof q.access_token === 'string' ? q.access_token : undefined;
      const r = tokenInfo(d.tokens, d.clock, token);
      return reply.status(r.status).header('cache-control', 'no-store').send(r.body);
    });

    // --- Sandbox: whoami and admin -----------------------------------------------------------
    app.get('/_sandbox/gcp/whoami', { errorHandler: googleErrors }, (req) => whoami(d, req.headers.authorization, SANDBOX_WHOAMI));

    const admin = { errorHandler: adminErrors };
    app.get('/_sandbox/gcp/config', admin, () => d.state.toJSON());
    app.put('/_sandbox/gcp/config', admin, (req) => {
      d.state.load(req.body);
      return d.state.toJSON();
    });

    app.post('/_sandbox/gcp/projects', admin, async (req, reply) => reply.status(201).send(d.state.createProject(req.body)));
    // `projects/<id>` and the custom methods `projects/<id>:getIamPolicy` share one path segment.
    app.get('/_sandbox/gcp/projects/:target', admin, (req) => {
      const [ref, verb] = splitVerb((req.params as Params).target!);
      if (verb === undefined) return d.state.project(ref);
      if (verb === 'getIamPolicy') return d.state.getIamPolicy({ kind: 'project', ref });
      throw unknownVerb(verb);
    });
    app.post('/_sandbox/gcp/projects/:target', admin, (req) => {
      const [ref, verb] = splitVerb((req.params as Params).target!);
      return policyVerb(d.state, { kind: 'project', ref }, verb, req.body);
    });
    app.delete('/_sandbox/gcp/projects/:project', admin, async (req, reply) => {
      d.state.deleteProject((req.params as Params).project!);
      return reply.status(204).send();
    });

    const pools = '/_sandbox/gcp/projects/:project/workloadIdentityPools';
    app.post(pools, admin, async (req, reply) => reply.status(201).send(d.state.createPool((req.params as Params).project!, req.body)));
    app.patch(`${pools}/:pool`, admin, (req) => {
      const p = req.params as Params;
      return d.state.updatePool(p.project!, p.pool!, req.body);
    });
    app.delete(`${pools}/:pool`, admin, async (req, reply) => {
      const p = req.params as Params;
      d.state.deletePool(p.project!, p.pool!);
      return reply.status(204).send();
    });
    app.post(`${pools}/:pool/providers`, admin, async (req, reply) => {
      const p = req.params as Params;
      return reply.status(201).send(d.state.createProvider(p.project!, p.pool!, req.body));
    });
    app.patch(`${pools}/:pool/providers/:provider`, admin, (req) => {
      const p = req.params as Params;
      return d.state.updateProvider(p.project!, p.pool!, p.provider!, req.body);
    });
    app.delete(`${pools}/:pool/providers/:provider`, admin, async (req, reply) => {
      const p = req.params as Params;
      d.state.deleteProvider(p.project!, p.pool!, p.provider!);
      return reply.status(204).send();
    });

    app.post('/_sandbox/gcp/projects/:project/serviceAccounts', admin, async (req, reply) =>
      reply.status(201).send(d.state.createServiceAccount((req.params as Params).project!, req.body)),
    );
    app.get('/_sandbox/gcp/serviceAccounts/:target', admin, (req) => {
      const [ref, verb] = splitVerb((req.params as Params).target!);
      if (verb === undefined) return d.state.serviceAccount(ref);
      if (verb === 'getIamPolicy') return d.state.getIamPolicy({ kind: 'serviceAccount', ref });
      throw unknownVerb(verb);
    });
    app.post('/_sandbox/gcp/serviceAccounts/:target', admin, (req) => {
      const [ref, verb] = splitVerb((req.params as Params).target!);
      return policyVerb(d.state, { kind: 'serviceAccount', ref }, verb, req.body);
    });
    app.delete('/_sandbox/gcp/serviceAccounts/:account', admin, async (req, reply) => {
      d.state.deleteServiceAccount((req.params as Params).account!);
      return reply.status(204).send();
    });
    done();
  };
}

const POLICY_VERBS = ['getIamPolicy', 'setIamPolicy', 'addIamPolicyBinding', 'removeIamPolicyBinding'];

function unknownVerb(verb: string | undefined): AppError {
  return new AppError('ERR_ROUTE_NOT_FOUND', `no custom method ":${verb ?? ''}" here; use one of ${POLICY_VERBS.map((v) => `:${v}`).join(', ')}`, {
    example: ':addIamPolicyBinding',
  });
}

function policyVerb(state: GcpState, resource: PolicyResource, verb: string | undefined, body: unknown) {
  switch (verb) {
    case 'setIamPolicy':
      return state.setIamPolicy(resource, body);
    case 'addIamPolicyBinding':
      return state.addIamPolicyBinding(resource, body);
    case 'removeIamPolicyBinding':
      return state.removeIamPolicyBinding(resource, body);
    case 'getIamPolicy':
      return state.getIamPolicy(resource);
    default:
      throw unknownVerb(verb);
  }
}
