/**
 * A workload reading its Deployment's environment (`GET /api/v1/workload/environment`): every
 * variable with its value, secrets included, and the linked connections with their passwords.
 *
 * Secrets leaving the server are recorded. The agent re-reads the environment every 30 s, so a
 * record is written when a workload receives content it has not been recorded receiving (its
 * first read, and the first read after any change: the digest names the content), and otherwise
 * at most once an hour per workload (a join credential, or a pod), with `details.suppressed`
 * counting the reads in between.
 * The record commits before the response leaves; a read whose record cannot be written is refused.
 */
import type { AuditLog } from '../audit/log.ts';
import { createRefusalPacer } from '../audit/pacer.ts';
import type { Clock } from '../lib/clock.ts';
import type { WorkloadEnvironment } from '../variables/service.ts';
import { environmentDigest, type WorkloadEnvironmentDoc } from './deployment-environment.ts';
import type { AuthenticatedWorkload, ExchangeContext } from './service.ts';

export const ENVIRONMENT_READ_RECORD_EVERY_MS = 3_600_000;

export interface WorkloadEnvironmentReader {
  /** Attests `bearer` (a join credential, or a pod token for `clusterRef`) and answers its Deployment's environment. */
  read(bearer: string, clusterRef: string | undefined, ctx: ExchangeContext): Promise<WorkloadEnvironmentDoc>;
}

export interface WorkloadEnvironmentReaderDeps {
  authenticate(bearer: string, clusterRef: string | undefined, ctx: ExchangeContext): Promise<AuthenticatedWorkload>;
  environment(deploymentId: string): Promise<WorkloadEnvironment>;
  audit: Pick<AuditLog, 'record'>;
  clock: Clock;
}

export function createWorkloadEnvironmentReader(d: WorkloadEnvironmentReaderDeps): WorkloadEnvironmentReader {
  // Only attested workloads get this far, so a full pacer records every read rather than fold
  // new keys into one: a read of secrets is never left out for lack of room.
  const pacer = createRefusalPacer({ clock: d.clock, everyMs: ENVIRONMENT_READ_RECORD_EVERY_MS, maxKeys: 100_000, whenFull: 'admit' });
  return {
    async read(bearer, clusterRef, ctx) {
      const { profile, actor } = await d.authenticate(bearer, clusterRef, ctx);
      const dep = profile.deployment;
      const env = await d.environment(dep.id);
      const content = { variables: env.variables, connections: env.connections.map((c) => ({ connId: c.connId, fields: c.fields })) };
      const doc: WorkloadEnvironmentDoc = { deployment: { id: dep.id, name: dep.name }, digest: environmentDigest(content), ...content };
      // Per workload: a join credential, or one pod (several pods share a service account, and
      // each one that receives the secrets is named in a record of its own).
      const key = `${actor.type}:${actor.id}\n${actor.type === 'kubernetes' ? (actor.name ?? '') : ''}\n${dep.id}\n${doc.digest}`;
      const verdict = pacer.admit(key);
      if (verdict.record) {
        try {
          await d.audit.record({
            actor,
            action: 'environment.read',
            target: { type: 'deployment', id: dep.id, name: `${dep.name}/${profile.component}` },
            result: 'success',
            requestId: ctx.requestId,
            source: ctx.source,
            details: {
              digest: doc.digest,
              variables: doc.variables.length,
              // Names only: which secret values (variables, connection passwords) left the server.
              secrets: doc.variables.filter((v) => v.secret).map((v) => v.key),
              connections: doc.connections.map((c) => c.connId),
              suppressed: verdict.suppressed,
            },
          });
        } catch (err) {
          pacer.forget(key);
          throw err;
        }
      }
      return doc;
    },
  };
}
