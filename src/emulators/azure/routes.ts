import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import { aadsts, EntraError, entraErrorBody } from './aadsts.ts';
import { AccessTokenError, type AccessTokenService } from './access-tokens.ts';
import { instanceDiscovery, openIdConfiguration } from './discovery.ts';
import { AzureAdminError } from './errors.ts';
import { credentialView, flattenArmBody, identityView, type IdentityRef } from './model.ts';
import type { AzureState } from './state.ts';
import { parseTokenForm, type TokenExchange } from './token-exchange.ts';

/**
 * The HTTP edge of the Azure sandbox and the only file of it that knows fastify. Handlers read
 * the request, call the state or the token exchange, and turn their errors into Entra's or ARM's
 * error bodies; no rule lives here.
 */

export interface AzureRoutesDeps {
  state: AzureState;
  exchange: TokenExchange;
  tokens: AccessTokenService;
  clock: Clock;
  logger?: Logger | undefined;
}

export const ADMIN_PREFIX = '/_sandbox/azure';
const IDENTITY_PATH = '/subscriptions/:subscriptionId/:rg/:resourceGroup/providers/Microsoft.ManagedIdentity/userAssignedIdentities/:name';

// The Host header is the client's to choose and ends up in issuer URLs; anything that is not a
// plain host[:port] is replaced by the socket's own address.
const SAFE_HOST = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/;

function origin(req: FastifyRequest): string {
  const host = SAFE_HOST.test(req.host) ? req.host : `${req.socket.localAddress}:${req.socket.localPort}`;
  return `${req.protocol}://${host}`;
}

const LOOPBACK_HOST = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/i;

/**
 * Whether `host[:port]` names this emulator: the host the request itself was sent to, or a
 * loopback address with the port this socket was accepted on. The second case is the request
 * that came through the sandbox's proxy, addressed to login.microsoftonline.com, asking about
 * the authority https://127.0.0.1:<port>.
 */
function isSandboxHost(req: FastifyRequest, hostAndPort: string): boolean {
  if (hostAndPort.toLowerCase() === new URL(origin(req)).host.toLowerCase()) return true;
  const m = /^(.+):(\d+)$/.exec(hostAndPort);
  return m !== null && LOOPBACK_HOST.test(m[1]!) && Number(m[2]) === req.socket.localPort;
}

function isTokenRoute(req: FastifyRequest): boolean {
  return req.routeOptions.url?.endsWith('/:tenant/oauth2/v2.0/token') ?? false;
}

function identityRef(req: FastifyRequest): IdentityRef {
  const p = req.params as { subscriptionId: string; rg: string; resourceGroup: string; name: string };
  // ARM spells the segment `resourceGroups`, `az` prints ids with `resourcegroups`; both address the same resource.
  if (p.rg.toLowerCase() !== 'resourcegroups') throw new AzureAdminError('ResourceNotFound', `no such path segment '${p.rg}'; expected 'resourceGroups'`);
  return { subscriptionId: p.subscriptionId, resourceGroup: p.resourceGroup, name: p.name };
}

/** ARM answers a DELETE of something absent with 204 and of something present with 200. */
function idempotentDelete(reply: FastifyReply, remove: () => void) {
  try {
    remove();
    return reply.status(200).send();
  } catch (err) {
    if (err instanceof AzureAdminError && err.code === 'ResourceNotFound') return reply.status(204).send();
    throw err;
  }
}

function bearer(req: FastifyRequest): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
}

/** Builds the fastify plugin. Register it without fastify-plugin so its parsers and error handler stay inside it. */
export function azureRoutes(d: AzureRoutesDeps): FastifyPluginCallback {
  return (app: FastifyInstance, _opts, done) => {
    // Entra's token endpoint takes form posts. The parser belongs to this plugin only, so the
    // server it is mounted on keeps refusing forms everywhere else. The body is kept as text and
    // read by parseTokenForm, which knows Entra's rule on repeated parameters.
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => done(null, body));

    app.setErrorHandler((err, req, reply) => {
      const correlationId = req.headers['client-request-id'];
      const entra = (e: EntraError) =>
        reply
          .status(e.status)
          .header('cache-control', 'no-store, no-cache')
          .send(entraErrorBody(e, { nowMs: d.clock.now(), correlationId: typeof correlationId === 'string' ? correlationId : undefined }));
      if (err instanceof EntraError) return entra(err);
      if (err instanceof AzureAdminError) return reply.status(err.status).send(err.toBody());
      const status = (err as { statusCode?: number }).statusCode;
      if (status && status >= 400 && status < 500) {
        // Fastify's own refusals: a body it could not read, of the wrong type or too large.
        if (isTokenRoute(req)) return entra(aadsts.missingParameter('grant_type'));
        const code = status === 415 ? 'UnsupportedMediaType' : 'BadRequest';
        return reply.status(status).send({ error: { code, message: (err as Error).message } });
      }
      d.logger?.error('azure sandbox request failed', { method: req.method, url: req.url.split('?')[0], err });
      return reply.status(500).send({ error: { code: 'InternalServerError', message: `internal error (request ${req.id})` } });
    });

    // --- Entra ID -------------------------------------------------------------------------------

    app.get('/:tenant/v2.0/.well-known/openid-configuration', async (req, reply) => {
      const { tenant } = req.params as { tenant: string };
      const t = d.state.getTenant(tenant);
      if (!t) throw aadsts.tenantNotFound(tenant);
      return reply.header('cache-control', 'max-age=86400, private').send(openIdConfiguration(origin(req), t.tenantId));
    });

    app.get('/:tenant/discovery/v2.0/keys', async (req, reply) => {
      const { tenant } = req.params as { tenant: string };
      if (!d.state.getTenant(tenant)) throw aadsts.tenantNotFound(tenant);
      return reply.header('cache-control', 'max-age=86400, private').send(d.tokens.jwks());
    });

    app.get('/common/discovery/instance', (req) => {
      const { authorization_endpoint } = req.query as { authorization_endpoint?: string };
      const answer = instanceDiscovery(origin(req), typeof authorization_endpoint === 'string' ? authorization_endpoint : undefined, (hostAndPort) => isSandboxHost(req, hostAndPort));
      if (!answer.known) throw aadsts.unknownInstance();
      return answer.body;
    });

    app.post('/:tenant/oauth2/v2.0/token', async (req, reply) => {
      const { tenant } = req.params as { tenant: string };
      const params = typeof req.body === 'string' ? parseTokenForm(req.body) : {};
      const grant = await d.exchange.exchange({ tenant, params, origin: origin(req) });
      d.logger?.info('azure sandbox issued an access token', { tenant, clientId: grant.identity.clientId, identity: grant.identity.name });
      return reply.header('cache-control', 'no-store, no-cache').header('pragma', 'no-cache').send(grant.response);
    });

    // --- the identity a token was issued to ---------------------------------------------------

    app.get(`${ADMIN_PREFIX}/whoami`, async (req, reply) => {
      const refuse = (message: string) =>
        reply
          .status(401)
          .header('www-authenticate', `Bearer authorization_uri="${origin(req)}", error="invalid_token", error_description="${message}"`)
          .send({ error: { code: 'InvalidAuthenticationToken', message } });
      const token = bearer(req);
      if (!token) return refuse('The request has no bearer token.');
      let claims;
      try {
        claims = await d.tokens.verify(token);
      } catch (err) {
        if (err instanceof AccessTokenError) return refuse(`The access token is invalid: ${err.message}.`);
        throw err;
      }
      const identity = d.state.findByClientId(claims.tid, claims.appid);
      if (!identity || identity.principalId !== claims.oid) return refuse('The access token is invalid: the managed identity it was issued to no longer exists.');
      return {
        ...identityView(identity),
        token: { aud: claims.aud, iss: claims.iss, iat: claims.iat, exp: claims.exp, uti: claims.uti },
      };
    });

    // --- admin API: the whole configuration ------------------------------------------------------

    app.get(`${ADMIN_PREFIX}/config`, () => d.state.toJSON());
    app.put(`${ADMIN_PREFIX}/config`, (req) => {
      d.state.load(req.body);
      return d.state.toJSON();
    });

    // --- admin API: tenants ----------------------------------------------------------------------

    app.get(`${ADMIN_PREFIX}/tenants`, () => ({ value: d.state.listTenants() }));
    app.get(`${ADMIN_PREFIX}/tenants/:tenantId`, (req) => {
      const { tenantId } = req.params as { tenantId: string };
      const t = d.state.getTenant(tenantId);
      if (!t) throw new AzureAdminError('ResourceNotFound', `Tenant '${tenantId}' is not configured in the sandbox.`);
      return t;
    });
    app.put(`${ADMIN_PREFIX}/tenants/:tenantId`, async (req, reply) => {
      const { tenantId } = req.params as { tenantId: string };
      const r = d.state.putTenant(tenantId, req.body);
      return reply.status(r.created ? 201 : 200).send(r.value);
    });
    app.delete(`${ADMIN_PREFIX}/tenants/:tenantId`, async (req, reply) => {
      const { tenantId } = req.params as { tenantId: string };
      return idempotentDelete(reply, () => d.state.deleteTenant(tenantId));
    });

    // --- admin API: managed identities, at their ARM paths -------------------------------------

    app.get(`${ADMIN_PREFIX}/identities`, () => ({ value: d.state.listIdentities().map(identityView) }));

    const identityPath = `${ADMIN_PREFIX}${IDENTITY_PATH}`;
    const requireIdentity = (ref: IdentityRef) => {
      const i = d.state.getIdentity(ref);
      if (!i) throw new AzureAdminError('ResourceNotFound', `The Resource 'Microsoft.ManagedIdentity/userAssignedIdentities/${ref.name}' under resource group '${ref.resourceGroup}' was not found.`);
      return i;
    };

    app.get(identityPath, (req) => identityView(requireIdentity(identityRef(req))));
    app.put(identityPath, async (req, reply) => {
      const r = d.state.putIdentity(identityRef(req), flattenArmBody(req.body));
      return reply.status(r.created ? 201 : 200).send(identityView(r.value));
    });
    app.delete(identityPath, async (req, reply) => {
      const ref = identityRef(req);
      return idempotentDelete(reply, () => d.state.deleteIdentity(ref));
    });

    app.get(`${identityPath}/federatedIdentityCredentials`, (req) => {
      const identity = requireIdentity(identityRef(req));
      return { value: identity.federatedIdentityCredentials.map((c) => credentialView(identity, c)) };
    });
    app.get(`${identityPath}/federatedIdentityCredentials/:credential`, (req) => {
      const identity = requireIdentity(identityRef(req));
      const { credential } = req.params as { credential: string };
      const c = identity.federatedIdentityCredentials.find((x) => x.name.toLowerCase() === credential.toLowerCase());
      if (!c) throw new AzureAdminError('ResourceNotFound', `The federated identity credential '${credential}' was not found on managed identity '${identity.name}'.`);
      return credentialView(identity, c);
    });
    app.put(`${identityPath}/federatedIdentityCredentials/:credential`, async (req, reply) => {
      const ref = identityRef(req);
      const { credential } = req.params as { credential: string };
      const r = d.state.putCredential(ref, credential, flattenArmBody(req.body));
      return reply.status(r.created ? 201 : 200).send(credentialView(requireIdentity(ref), r.value));
    });
    app.delete(`${identityPath}/federatedIdentityCredentials/:credential`, async (req, reply) => {
      const ref = identityRef(req);
      requireIdentity(ref); // a missing parent is a 404, not an already-deleted credential
      const { credential } = req.params as { credential: string };
      return idempotentDelete(reply, () => d.state.deleteCredential(ref, credential));
    });
    done();
  };
}
