/**
 * `npm run bench [-- --only mint|http] [-- --quick]`: runs each benchmark in turn, then prints a
 * summary. Every figure is printed beside a baseline measured in the same run, because absolute
 * numbers on a shared machine mean little. Never fails on speed; exits non-zero only when a
 * benchmark could not run (a server that answers errors is a broken benchmark, not a slow one).
 */
import { parseArgs } from 'node:util';
import { EXCHANGE_DEFAULTS, runExchangeBench } from './exchange.ts';
import { FANIN_DEFAULTS, runFaninBench } from './fanin.ts';
import { HTTP_DEFAULTS, runHttpBench } from './http.ts';
import { fmtRatio, machineLine, table, type SummaryRow } from './lib.ts';
import { MINT_DEFAULTS, runMintBench } from './mint.ts';
import { STARTUP_DEFAULTS, runStartupBench } from './startup.ts';
import { WEBHOOK_DEFAULTS, runWebhookBench } from './webhook.ts';

const BENCHES = ['startup', 'mint', 'http', 'exchange', 'webhook', 'fanin'] as const;
type BenchName = (typeof BENCHES)[number];

const { values } = parseArgs({
  options: {
    only: { type: 'string', multiple: true },
    quick: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  console.log(`usage: npm run bench [-- --only ${BENCHES.join('|')}] [-- --quick]

  --only NAME   run just this benchmark (repeatable)
  --quick       fewer tokens/requests and rounds: a smoke run, figures are rougher`);
  process.exit(0);
}

const only = (values.only ?? [...BENCHES]);
for (const name of only) {
  if (!BENCHES.includes(name as BenchName)) {
    console.error(`unknown benchmark "${name}"; known: ${BENCHES.join(', ')}`);
    process.exit(2);
  }
}

const quick = values.quick;
const runners: Record<BenchName, () => Promise<SummaryRow[]>> = {
  startup: () => runStartupBench(quick ? { rounds: 1 } : STARTUP_DEFAULTS),
  mint: () => runMintBench(quick ? { ...MINT_DEFAULTS, count: 1000, rounds: 3, warmup: 200 } : MINT_DEFAULTS),
  http: () => runHttpBench(quick ? { ...HTTP_DEFAULTS, requests: 3000, rounds: 1, warmup: 500 } : HTTP_DEFAULTS),
  exchange: () => runExchangeBench(quick ? { ...EXCHANGE_DEFAULTS, count: 1000, rounds: 1, warmup: 200 } : EXCHANGE_DEFAULTS),
  fanin: () => runFaninBench(quick ? { ...FANIN_DEFAULTS, windows: 2 } : FANIN_DEFAULTS),
  webhook: () => runWebhookBench(quick ? { ...WEBHOOK_DEFAULTS, requests: 3000, rounds: 1, warmup: 500, inProcess: 5000 } : WEBHOOK_DEFAULTS),
};

console.log(`# airlock benchmarks${quick ? ' (quick)' : ''}`);
console.log(machineLine());

const started = Date.now();
const summary: SummaryRow[] = [];
for (const name of BENCHES) {
  if (!only.includes(name)) continue;
  summary.push(...(await runners[name]()));
}

console.log(`\n## summary (${((Date.now() - started) / 1000).toFixed(0)} s)`);
console.log(
  table(
    ['benchmark', 'airlock', 'baseline', 'ratio', 'goal', 'note'],
    summary.map((r) => [r.bench, r.figure, r.baseline, fmtRatio(r.ratio), r.goal ?? '', r.note ?? '']),
  ),
);
