import { randomUUID } from 'node:crypto';
import type { FastifyError, FastifyPluginCallback, FastifyRequest } from 'fastify';
import type { Logger } from '../../lib/logger.ts';
import type { QueryApiHandler } from './service.ts';
import type { RawHttpRequest } from './sigv4.ts';
import { STS_NAMESPACE } from './sts.ts';
import { renderQueryError } from './xml.ts';

/** A fastify plugin; the only type of the HTTP framework the rest of the emulator sees. */
export type AwsEmulatorPlugin = FastifyPluginCallback;

const FORM = 'application/x-www-form-urlencoded';

/**
 * The HTTP edge: `POST /` for the IAM and STS query APIs, `GET /_sandbox/aws/state` for
 * debugging. Not wrapped with fastify-plugin on purpose: the form parser registered here must stay
 * inside this plugin's encapsulation context, so a host app's own parsing is untouched and this
 * plugin always sees the raw bytes SigV4 was computed over.
 */
export function awsEmulatorRoutes(o: { handle: QueryApiHandler; snapshot: () => unknown; logger?: Logger | undefined }): AwsEmulatorPlugin {
  /**
   * A failure the client only sees as InternalFailure. It goes to the given logger (the sandbox
   * passes the project's), else to the host's fastify logger. Only the method, path and request
   * id are logged with the cause: bodies carry tokens.
   */
  const logFailure = (request: FastifyRequest, err: unknown, requestId: string) => {
    const fields = { method: request.method, url: request.url.split('?')[0], requestId, err };
    if (o.logger) o.logger.error('aws sandbox: unexpected failure', fields);
    else request.log.error(fields, 'aws sandbox: unexpected failure');
  };

  return (app, _opts, done) => {
    // A parent context may already parse forms (into objects); the signature needs the bytes.
    if (app.hasContentTypeParser(FORM)) app.removeContentTypeParser(FORM);
    app.addContentTypeParser(FORM, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

    // Framework-level failures (unsupported media type, body too large, …) still answer in
    // AWS's XML, so SDKs report a readable error instead of failing to parse JSON.
    app.setErrorHandler((err: FastifyError, request, reply) => {
      const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
      const requestId = randomUUID();
      if (status >= 500) logFailure(request, err, requestId);
      const body = renderQueryError(
        STS_NAMESPACE,
        status >= 500
          ? { type: 'Receiver', code: 'InternalFailure', message: 'The request processing has failed because of an unknown error, exception or failure.' }
          : { type: 'Sender', code: 'InvalidParameterValue', message: err.message },
        requestId,
      );
      return reply.code(status).header('content-type', 'text/xml').header('x-amzn-requestid', requestId).send(body);
    });

    app.post('/', async (request, reply) => {
      const url = request.raw.url ?? '/';
      const q = url.indexOf('?');
      const rawHeaders = request.raw.rawHeaders;
      const headers: [string, string][] = [];
      for (let i = 0; i + 1 < rawHeaders.length; i += 2) headers.push([rawHeaders[i]!, rawHeaders[i + 1]!]);
      const raw: RawHttpRequest = {
        method: request.raw.method ?? 'POST',
        path: q < 0 ? url : url.slice(0, q),
        query: q < 0 ? '' : url.slice(q + 1),
        headers,
        body: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
      };
      const res = await o.handle(raw);
      if (res.internalError !== undefined) logFailure(request, res.internalError, res.requestId);
      return reply.code(res.status).header('content-type', 'text/xml').header('x-amzn-requestid', res.requestId).send(res.body);
    });

    app.get('/_sandbox/aws/state', async (_request, reply) => reply.header('cache-control', 'no-store').send(o.snapshot()));
    done();
  };
}
