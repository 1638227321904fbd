import { parseTrustPolicy } from '../../aws-policy/trust-policy.ts';
import { isAppError } from '../../errors/index.ts';
import type { Clock } from '../../lib/clock.ts';
import { AwsError } from './errors.ts';
import { checkString, intParam, type QueryParams } from './query.ts';
import { randomId, type RandomBytes } from './sessions.ts';
import type { AwsAccountState, AwsState, OidcProviderRecord, RoleRecord } from './state.ts';
import { members, type XmlElements } from './xml.ts';

/**
 * The slice of the IAM query API that web-identity federation needs: OIDC providers and roles with
 * trust policies. No permission policies, users, groups or tags: the sandbox decides who may assume
 * what, not what a session may then do.
 */

export const IAM_NAMESPACE = 'https://iam.amazonaws.com/doc/2010-05-08/';

export const IAM_ACTIONS = [
  'CreateOpenIDConnectProvider',
  'GetOpenIDConnectProvider',
  'ListOpenIDConnectProviders',
  'DeleteOpenIDConnectProvider',
  'AddClientIDToOpenIDConnectProvider',
  'RemoveClientIDFromOpenIDConnectProvider',
  'UpdateOpenIDConnectProviderThumbprint',
  'CreateRole',
  'GetRole',
  'ListRoles',
  'UpdateAssumeRolePolicy',
  'UpdateRole',
  'DeleteRole',
] as const;

export type IamAction = (typeof IAM_ACTIONS)[number];

export function isIamAction(action: string): action is IamAction {
  return (IAM_ACTIONS as readonly string[]).includes(action);
}

export interface IamServiceOptions {
  state: AwsState;
  clock: Clock;
  randomBytes: RandomBytes;
  /**
   * Longest trust policy accepted, in characters not counting white space (AWS's `ACLSizePerRole`
   * quota: 2048 by default, raisable to 4096 on request). Exceeding it is `LimitExceeded`.
   */
  trustPolicyMaxChars?: number;
}

export interface IamService {
  /**
   * Runs one action in the caller's account; the result is the content of `<ActionResult>`
   * (undefined: no result element).
   */
  handle(action: IamAction, p: QueryParams, accountId: string): XmlElements | undefined;
}

const ROLE_NAME = { min: 1, max: 64, pattern: /^[\w+=,.@-]+$/, patternText: '[\\w+=,.@-]+' };
const ROLE_PATH = { min: 1, max: 512, pattern: /^(\/|\/[\u0021-\u007E]+\/)$/, patternText: '(\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)' };
const CLIENT_ID = { min: 1, max: 255 };
const THUMBPRINT = { min: 40, max: 40, pattern: /^[0-9a-fA-F]{40}$/, patternText: '[0-9a-fA-F]{40}' };
const MAX_CLIENT_IDS = 100;
const MAX_THUMBPRINTS = 5;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** AWS URL-encodes policy documents in query-API responses; RFC 3986 unreserved characters stay. */
export function encodePolicyDocument(doc: string): string {
  return encodeURIComponent(doc).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

/** `2026-01-01T00:00:00Z`: AWS timestamps in query responses carry no milliseconds. */
export function awsTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function createIamService(o: IamServiceOptions): IamService {
  const maxPolicyChars = o.trustPolicyMaxChars ?? 2048;

  function roleXml(r: RoleRecord): XmlElements {
    return {
      Path: r.path,
      RoleName: r.roleName,
      RoleId: r.roleId,
      Arn: r.arn,
      CreateDate: r.createDate,
      AssumeRolePolicyDocument: encodePolicyDocument(r.assumeRolePolicyDocument),
      Description: r.description,
      MaxSessionDuration: r.maxSessionDuration,
    };
  }

  function mustRole(state: AwsAccountState, name: string): RoleRecord {
    const r = state.role(name);
    if (!r) throw new AwsError('NoSuchEntity', `The role with name ${name} cannot be found.`);
    return r;
  }

  function mustProvider(state: AwsAccountState, arn: string): OidcProviderRecord {
    checkString('OpenIDConnectProviderArn', arn, { min: 20, max: 2048 });
    const p = state.provider(arn);
    if (!p) throw new AwsError('NoSuchEntity', `OpenIDConnect provider not found for arn ${arn}`);
    return p;
  }

  /**
   * Validates with the shared trust-policy parser, so a document the sandbox accepts is one the
   * evaluator understands. The parser's message (with the JSON path at fault) is passed on: AWS's
   * own MalformedPolicyDocument messages are terse, the sandbox can afford to be helpful.
   */
  function checkTrustPolicy(doc: string, param: string): string {
    checkString(param, doc, { min: 1, max: 131072 });
    try {
      parseTrustPolicy(doc);
    } catch (err) {
      if (isAppError(err)) {
        const where = err.field ? ` (at ${err.field})` : '';
        throw new AwsError('MalformedPolicyDocument', `${err.message}${where}`, { cause: err });
      }
      throw err;
    }
    const size = doc.replace(/\s+/g, '').length;
    if (size > maxPolicyChars) {
      throw new AwsError('LimitExceeded', `Cannot exceed quota for ACLSizePerRole: ${maxPolicyChars}`);
    }
    return doc;
  }

  function clientIdList(p: QueryParams): string[] {
    const ids = p.list('ClientIDList');
    if (ids.length > MAX_CLIENT_IDS) throw new AwsError('LimitExceeded', `Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: ${MAX_CLIENT_IDS}`);
    for (const id of ids) checkString('ClientIDList.member', id, CLIENT_ID);
    return [...new Set(ids)];
  }

  function thumbprintList(p: QueryParams): string[] {
    const tps = p.list('ThumbprintList');
    if (tps.length > MAX_THUMBPRINTS) throw new AwsError('LimitExceeded', `Cannot exceed quota for ThumbprintsPerOpenIdConnectProvider: ${MAX_THUMBPRINTS}`);
    for (const t of tps) checkString('ThumbprintList.member', t, THUMBPRINT);
    return [...new Set(tps.map((t) => t.toLowerCase()))];
  }

  /**
   * AWS requires `https://` and rejects query strings and fragments. The sandbox also takes
   * `http://` for a loopback host, because a local Airlock serves its issuer over plain HTTP.
   */
  function parseProviderUrl(raw: string): { scheme: 'https' | 'http'; url: string } {
    checkString('Url', raw, { min: 1, max: 255 });
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      throw new AwsError('InvalidInput', 'Invalid Open ID Connect Provider URL');
    }
    const scheme = u.protocol === 'https:' ? 'https' : u.protocol === 'http:' ? 'http' : undefined;
    if (!scheme || u.search || u.hash || u.username || u.password || !u.hostname) {
      throw new AwsError('InvalidInput', 'Invalid Open ID Connect Provider URL');
    }
    if (scheme === 'http' && !LOOPBACK_HOSTS.has(u.hostname)) {
      throw new AwsError('InvalidInput', 'Invalid Open ID Connect Provider URL (the sandbox accepts http:// only for loopback issuers; AWS requires https://)');
    }
    // AWS keeps what follows the scheme as given; only the scheme is dropped.
    return { scheme, url: raw.slice(raw.indexOf('://') + 3) };
  }

  const handlers: Record<IamAction, (p: QueryParams, state: AwsAccountState) => XmlElements | undefined> = {
    CreateOpenIDConnectProvider(p, state) {
      const { scheme, url } = parseProviderUrl(p.require('Url'));
      const clientIds = clientIdList(p);
      const thumbprints = thumbprintList(p);
      const arn = `arn:aws:iam::${state.accountId}:oidc-provider/${url}`;
      if (state.provider(arn)) throw new AwsError('EntityAlreadyExists', `Provider with url ${scheme}://${url} already exists.`);
      state.putProvider({ arn, url, scheme, clientIds, thumbprints, createDate: awsTimestamp(o.clock.now()) });
      return { OpenIDConnectProviderArn: arn };
    },
    GetOpenIDConnectProvider(p, state) {
      const pr = mustProvider(state, p.require('OpenIDConnectProviderArn'));
      return {
        Url: pr.url,
        ClientIDList: members(pr.clientIds),
        ThumbprintList: members(pr.thumbprints),
        CreateDate: pr.createDate,
        Tags: members([]),
      };
    },
    ListOpenIDConnectProviders(_p, state) {
      return { OpenIDConnectProviderList: members(state.providers().map((pr) => ({ Arn: pr.arn }))) };
    },
    DeleteOpenIDConnectProvider(p, state) {
      const pr = mustProvider(state, p.require('OpenIDConnectProviderArn'));
      state.deleteProvider(pr.arn);
      return undefined;
    },
    AddClientIDToOpenIDConnectProvider(p, state) {
      const pr = mustProvider(state, p.require('OpenIDConnectProviderArn'));
      const id = checkString('ClientID', p.require('ClientID'), CLIENT_ID);
      if (!pr.clientIds.includes(id)) {
        if (pr.clientIds.length >= MAX_CLIENT_IDS) throw new AwsError('LimitExceeded', `Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: ${MAX_CLIENT_IDS}`);
        state.putProvider({ ...pr, clientIds: [...pr.clientIds, id] });
      }
      return undefined;
    },
    RemoveClientIDFromOpenIDConnectProvider(p, state) {
      const pr = mustProvider(state, p.require('OpenIDConnectProviderArn'));
      const id = checkString('ClientID', p.require('ClientID'), CLIENT_ID);
      if (pr.clientIds.includes(id)) state.putProvider({ ...pr, clientIds: pr.clientIds.filter((c) => c !== id) });
      return undefined;
    },
    UpdateOpenIDConnectProviderThumbprint(p, state) {
      const pr = mustProvider(state, p.require('OpenIDConnectProviderArn'));
      state.putProvider({ ...pr, thumbprints: thumbprintList(p) });
      return undefined;
    },
    CreateRole(p, state) {
      const roleName = checkString('RoleName', p.require('RoleName'), ROLE_NAME);
      const path = checkString('Path', p.get('Path') ?? '/', ROLE_PATH);
      const doc = checkTrustPolicy(p.require('AssumeRolePolicyDocument'), 'AssumeRolePolicyDocument');
      const description = p.get('Description');
      if (description !== undefined) checkString('Description', description, { max: 1000 });
      const maxSessionDuration = intParam(p, 'MaxSessionDuration', 3600, 43200) ?? 3600;
      const existing = state.role(roleName);
      if (existing) throw new AwsError('EntityAlreadyExists', `Role with name ${existing.roleName} already exists.`);
      let roleId: string;
      do roleId = randomId(o.randomBytes, 'AROA', 17);
      while (o.state.roleIdTaken(roleId));
      const role: RoleRecord = {
        roleName,
        roleId,
        path,
        arn: `arn:aws:iam::${state.accountId}:role${path}${roleName}`,
        assumeRolePolicyDocument: doc,
        description,
        maxSessionDuration,
        createDate: awsTimestamp(o.clock.now()),
      };
      state.putRole(role);
      return { Role: roleXml(role) };
    },
    GetRole(p, state) {
      return { Role: roleXml(mustRole(state, p.require('RoleName'))) };
    },
    ListRoles(p, state) {
      const prefix = checkString('PathPrefix', p.get('PathPrefix') ?? '/', { min: 1, max: 512 });
      const maxItems = intParam(p, 'MaxItems', 1, 1000) ?? 100;
      const marker = p.get('Marker');
      const all = state
        .roles()
        .filter((r) => r.path.startsWith(prefix))
        .sort((a, b) => (a.roleName.toLowerCase() < b.roleName.toLowerCase() ? -1 : 1));
      // The marker is the lower-cased name of the last role returned: opaque to callers, stable
      // across unrelated creates and deletes.
      const start = marker === undefined ? 0 : all.findIndex((r) => r.roleName.toLowerCase() > marker);
      const page = start < 0 ? [] : all.slice(start, start + maxItems);
      const truncated = start >= 0 && start + maxItems < all.length;
      return {
        Roles: members(page.map(roleXml)),
        IsTruncated: truncated,
        Marker: truncated ? page[page.length - 1]!.roleName.toLowerCase() : undefined,
      };
    },
    UpdateAssumeRolePolicy(p, state) {
      const r = mustRole(state, checkString('RoleName', p.require('RoleName'), ROLE_NAME));
      const doc = checkTrustPolicy(p.require('PolicyDocument'), 'PolicyDocument');
      state.putRole({ ...r, assumeRolePolicyDocument: doc });
      return undefined;
    },
    UpdateRole(p, state) {
      const r = mustRole(state, checkString('RoleName', p.require('RoleName'), ROLE_NAME));
      const description = p.get('Description');
      if (description !== undefined) checkString('Description', description, { max: 1000 });
      const maxSessionDuration = intParam(p, 'MaxSessionDuration', 3600, 43200);
      state.putRole({ ...r, description: description ?? r.description, maxSessionDuration: maxSessionDuration ?? r.maxSessionDuration });
      return {};
    },
    DeleteRole(p, state) {
      const r = mustRole(state, checkString('RoleName', p.require('RoleName'), ROLE_NAME));
      state.deleteRole(r.roleName);
      return undefined;
    },
  };

  return {
    handle: (action, p, accountId) => handlers[action](p, o.state.account(accountId)),
  };
}
