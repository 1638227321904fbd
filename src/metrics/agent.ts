/**
 * What `airlock agent --metrics-file` writes: the tokens it holds and how its exchanges went, in
 * Prometheus' text format, for node_exporter's textfile collector (a VM's agent opens no port).
 * The file is rewritten every few seconds; its own timestamp going stale means the agent stopped.
 */
import { Counter, Gauge, Registry } from 'prom-client';

export interface AgentSample {
  deployment: string;
  component: string;
  /** Epoch ms of now, and of each held token. */
  now: number;
  tokens: { audience: string; issuedAt: number | undefined; expiresAt: number | undefined }[];
  exchanges: Record<string, number>;
  failures: Record<string, number>;
}

export async function agentMetricsText(s: AgentSample): Promise<string> {
  const registry = new Registry();
  const registers = [registry];
  new Gauge({ name: 'airlock_agent_info', help: 'Always 1; the Deployment and component the agent keeps tokens for', labelNames: ['deployment', 'component'], registers }).set(
    { deployment: s.deployment, component: s.component },
    1,
  );
  new Gauge({ name: 'airlock_agent_metrics_written_timestamp_seconds', help: 'When the agent last wrote this file; a stale value means it stopped', registers }).set(s.now / 1000);
  const expiry = new Gauge({ name: 'airlock_agent_token_expiry_timestamp_seconds', help: 'When the token file of each audience expires (absent until one is held)', labelNames: ['audience'], registers });
  const issued = new Gauge({ name: 'airlock_agent_token_issued_timestamp_seconds', help: 'When the token held for each audience was issued', labelNames: ['audience'], registers });
  const exchanges = new Counter({ name: 'airlock_agent_exchanges_total', help: 'Token exchanges the agent attempted, per audience', labelNames: ['audience'], registers });
  const failures = new Counter({ name: 'airlock_agent_exchange_failures_total', help: 'Token exchanges that failed (refused, or Airlock unreachable), per audience', labelNames: ['audience'], registers });
  for (const t of s.tokens) {
    if (t.expiresAt !== undefined) expiry.set({ audience: t.audience }, t.expiresAt / 1000);
    if (t.issuedAt !== undefined) issued.set({ audience: t.audience }, t.issuedAt / 1000);
    exchanges.inc({ audience: t.audience }, s.exchanges[t.audience] ?? 0);
    failures.inc({ audience: t.audience }, s.failures[t.audience] ?? 0);
  }
  return registry.metrics();
}
