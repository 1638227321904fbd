import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from 'jose';
import type { Clock } from '../../lib/clock.ts';

/** Why a presented OIDC token was refused; each emulator maps these to its cloud's error codes. */
export type TokenFailure =
  | 'malformed' // not a JWT, or claims of the wrong type
  | 'issuer-unreachable' // discovery or JWKS could not be fetched
  | 'unknown-key' // no key in the issuer's JWKS has the token's kid
  | 'bad-signature'
  | 'bad-algorithm'
  | 'expired'
  | 'not-yet-valid';

export class TokenCheckError extends Error {
  constructor(
    readonly reason: TokenFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TokenCheckError';
  }
}

export interface VerifiedToken {
  header: { alg: string; kid?: string | undefined };
  claims: JWTPayload & Record<string, unknown>;
}

export interface OidcVerifier {
  /**
   * Reads `iss` without trusting it, so the caller can look up its configuration (provider,
   * pool, federated credential) before anything is fetched from that issuer.
   */
  peekIssuer(token: string): string;
  /** Verifies signature and times against the issuer's published keys. Audience is the caller's check. */
  verify(token: string, issuer: string, opts?: { algorithms?: string[] }): Promise<VerifiedToken>;
}

export interface OidcVerifierOptions {
  clock: Clock;
  clockSkewSeconds?: number;
  /** How long fetched JWKS are kept before a refetch (an unknown kid triggers one sooner). */
  jwksCacheSeconds?: number;
  fetchTimeoutMs?: number;
}

/**
 * What a cloud's token service does with a web-identity token: discover the issuer
 * (`<iss>/.well-known/openid-configuration`), fetch its JWKS, check the signature and the time
 * claims. Only ever pointed at issuers an emulator was configured to trust.
 */
export function createOidcVerifier(o: OidcVerifierOptions): OidcVerifier {
  const skew = o.clockSkewSeconds ?? 60;
  const timeout = o.fetchTimeoutMs ?? 5000;
  const sets = new Map<string, { jwks: ReturnType<typeof createRemoteJWKSet>; at: number }>();

  async function jwksFor(issuer: string) {
    const hit = sets.get(issuer);
    if (hit && o.clock.now() - hit.at < (o.jwksCacheSeconds ?? 600) * 1000) return hit.jwks;
    let jwksUri: string;
    try {
      const res = await fetch(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(timeout) });
      if (!res.ok) throw new Error(`discovery answered ${res.status}`);
      const doc = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
      if (doc.issuer !== issuer) throw new Error(`discovery issuer ${JSON.stringify(doc.issuer)} does not match ${issuer}`);
      if (typeof doc.jwks_uri !== 'string') throw new Error('discovery has no jwks_uri');
      jwksUri = doc.jwks_uri;
    } catch (cause) {
      throw new TokenCheckError('issuer-unreachable', `could not fetch the OIDC discovery document of ${issuer}: ${(cause as Error).message}`, { cause });
    }
    const jwks = createRemoteJWKSet(new URL(jwksUri), { timeoutDuration: timeout, cooldownDuration: 0, cacheMaxAge: (o.jwksCacheSeconds ?? 600) * 1000 });
    sets.set(issuer, { jwks, at: o.clock.now() });
    return jwks;
  }

  return {
    peekIssuer(token) {
      try {
        decodeProtectedHeader(token);
        const iss = decodeJwt(token).iss;
        if (typeof iss !== 'string' || iss.length === 0) throw new Error('no iss claim');
        return iss;
      } catch (cause) {
        throw new TokenCheckError('malformed', `the token is not a JWT with an iss claim: ${(cause as Error).message}`, { cause });
      }
    },
    async verify(token, issuer, opts = {}) {
      const algorithms = opts.algorithms ?? ['RS256'];
      let header;
      try {
        header = decodeProtectedHeader(token);
      } catch (cause) {
        throw new TokenCheckError('malformed', 'the token header cannot be decoded', { cause });
      }
      if (!header.alg || !algorithms.includes(header.alg)) {
        throw new TokenCheckError('bad-algorithm', `signing algorithm ${header.alg ?? '(none)'} is not accepted; accepted: ${algorithms.join(', ')}`);
      }
      const jwks = await jwksFor(issuer);
      try {
        const { payload } = await jwtVerify(token, jwks, {
          issuer,
          algorithms,
          clockTolerance: skew,
          currentDate: new Date(o.clock.now()),
        });
        return { header: { alg: header.alg, kid: header.kid }, claims: payload as VerifiedToken['claims'] };
      } catch (err) {
        if (err instanceof TokenCheckError) throw err;
        if (err instanceof errors.JWTExpired) throw new TokenCheckError('expired', 'the token has expired', { cause: err });
        if (err instanceof errors.JWTClaimValidationFailed && err.claim === 'nbf') {
          throw new TokenCheckError('not-yet-valid', 'the token is not valid yet (nbf)', { cause: err });
        }
        if (err instanceof errors.JWKSNoMatchingKey) {
          throw new TokenCheckError('unknown-key', `no key in the issuer's JWKS matches kid ${header.kid ?? '(none)'}`, { cause: err });
        }
        if (err instanceof errors.JWSSignatureVerificationFailed) throw new TokenCheckError('bad-signature', 'the token signature is not valid', { cause: err });
        if (err instanceof errors.JWKSTimeout || (err as { code?: string }).code === 'ERR_JOSE_GENERIC') {
          throw new TokenCheckError('issuer-unreachable', `could not fetch the JWKS of ${issuer}`, { cause: err });
        }
        throw new TokenCheckError('malformed', (err as Error).message, { cause: err });
      }
    },
  };
}
