/**
 * Interleaved rounds of the shared peer harness (`/work/shared/peer-bench/bench.sh`, issue 13 item 5):
 * per round, the peer (oidc-provider) with its own ceilings, then devicegate's built `dist/bin.js serve`
 * as the harness's PEER_CMD, each `RUNS=1`. Prints each round and the medians: req/s, p99, devicegate
 * ÷ peer, and each side against the node:http + one ioredis GET ceiling measured in its own run.
 *
 *   npm run build && npx tsx bench/peer-rounds.ts              # ROUNDS=3 DURATION=10s WARMUP=3s (~10 min)
 *   ROUNDS=1 DURATION=5s npx tsx bench/peer-rounds.ts         # a quick look (~3 min)
 *   BASELINE_BIN=/path/to/old/dist/bin.js npx tsx bench/peer-rounds.ts   # before/after: that build too, in every round
 *
 * The harness is copied to a temporary directory (it writes results/ beside itself) and `npm ci`ed
 * there; devicegate runs with the example config, rate limits far above the load and a bench-only
 * DEVICEGATE_SECRET (benchServerEnv). The harness starts and stops its own Redis (port 6391) and pins
 * the server to CPU 0, wrk and Redis to CPU 1. Raw outputs stay in the printed directory.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { benchServerEnv } from './lib.js';

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SOURCE = resolve(process.env.PEER_SOURCE || '/work/shared/peer-bench');
const BIN = resolve(new URL('../dist/bin.js', import.meta.url).pathname);
/** Another build (an earlier commit's dist/bin.js) measured in the same rounds, for before/after ratios. */
const BASELINE_BIN = process.env.BASELINE_BIN ? resolve(process.env.BASELINE_BIN) : undefined;
if (BASELINE_BIN && !existsSync(BASELINE_BIN)) throw new Error(`${BASELINE_BIN} not found (BASELINE_BIN)`);
if (!existsSync(join(SOURCE, 'bench.sh'))) throw new Error(`${SOURCE}/bench.sh not found (PEER_SOURCE)`);
if (!existsSync(BIN)) throw new Error('dist/bin.js not found: npm run build first');

const work = mkdtempSync(join(tmpdir(), 'devicegate-peer-rounds-'));
const harness = join(work, 'peer-bench');
cpSync(SOURCE, harness, { recursive: true });
const install = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: harness, stdio: 'ignore' });
if (install.status !== 0) throw new Error(`npm ci failed in ${harness}`);
const env = benchServerEnv(work);
const devicegateAt = (bin: string) => ({
  PEER_CMD: `env DEVICEGATE_CONFIG=${env.DEVICEGATE_CONFIG} DEVICEGATE_SECRET=${env.DEVICEGATE_SECRET} LOG_LEVEL=warn node ${bin} serve`,
  AUTH_PATH: '/oauth/device/authorize',
  TOKEN_PATH: '/oauth/token',
  READY_PATH: '/readyz',
  CLIENT_ID: 'demo-cli',
  SCOPE: '',
});
const devicegate = devicegateAt(BIN);

interface Run {
  readonly auth: number;
  readonly poll: number;
  readonly authP99: number;
  readonly pollP99: number;
  readonly ceiling: number;
}

/** The figures of one harness run, from its summary.md (rows a, b and "node:http + 1 ioredis GET"). */
function readRun(dir: string): Run {
  const summary = readFileSync(join(dir, 'summary.md'), 'utf8');
  const row = (start: RegExp) => {
    const line = summary.split('\n').find((candidate) => start.test(candidate));
    if (!line) throw new Error(`no ${start} row in ${dir}/summary.md`);
    const cells = line.split('|').map((cell) => cell.trim());
    return { rps: Number(cells[2]!.replace(/\*/g, '')), p99: Number(cells[4]) };
  };
  const auth = row(/^\| a\. /);
  const poll = row(/^\| b\. /);
  return { auth: auth.rps, poll: poll.rps, authP99: auth.p99, pollP99: poll.p99, ceiling: row(/node:http \+ 1 ioredis GET/).rps };
}

function harnessRun(name: string, extra: Record<string, string>): Run {
  const out = join(harness, 'results', name);
  const run = spawnSync('bash', ['bench.sh'], { cwd: harness, env: { ...process.env, RUNS: '1', OUT: out, ...extra }, stdio: ['ignore', 'ignore', 'inherit'] });
  if (run.status !== 0) throw new Error(`bench.sh failed for ${name} (exit ${run.status}); see ${out}`);
  return readRun(out);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const pct = (part: number, whole: number) => `${((100 * part) / whole).toFixed(1)} %`;
const peers: Run[] = [];
const ours: Run[] = [];
const baselines: Run[] = [];
console.log(`peer harness ${SOURCE}, ${ROUNDS} interleaved rounds; outputs in ${join(harness, 'results')}`);
for (let round = 1; round <= ROUNDS; round++) {
  const peer = harnessRun(`round${round}-peer`, {});
  // The baseline (if any) between the peer and this build, alternating its place so neither build always runs last.
  const baselineFirst = round % 2 === 1;
  const baseline = BASELINE_BIN && baselineFirst ? harnessRun(`round${round}-baseline`, devicegateAt(BASELINE_BIN)) : undefined;
  const dg = harnessRun(`round${round}-devicegate`, devicegate);
  const baselineAfter = BASELINE_BIN && !baselineFirst ? harnessRun(`round${round}-baseline`, devicegateAt(BASELINE_BIN)) : undefined;
  peers.push(peer);
  ours.push(dg);
  const before = baseline ?? baselineAfter;
  if (before) {
    baselines.push(before);
    console.log(
      `round ${round}: baseline authorization ${before.auth}, polling ${before.poll} req/s; this build ${(dg.auth / before.auth).toFixed(2)}× / ${(dg.poll / before.poll).toFixed(2)}× of it`,
    );
  }
  console.log(
    `round ${round}: authorization ${dg.auth} vs ${peer.auth} req/s (${(dg.auth / peer.auth).toFixed(2)}×), ` +
      `polling ${dg.poll} vs ${peer.poll} (${(dg.poll / peer.poll).toFixed(2)}×); ceilings ${dg.ceiling} / ${peer.ceiling}`,
  );
}
const m = (runs: Run[], key: keyof Run) => median(runs.map((run) => run[key]));
const ceilingOurs = m(ours, 'ceiling');
const ceilingPeer = m(peers, 'ceiling');
console.log(`\nmedians of ${ROUNDS} rounds                 devicegate      peer    ratio`);
for (const [label, rps, p99] of [
  ['device authorization', 'auth', 'authP99'],
  ['polling (pending codes)', 'poll', 'pollP99'],
] as const) {
  const ourRate = m(ours, rps);
  const peerRate = m(peers, rps);
  console.log(
    `${label.padEnd(26)} req/s ${String(ourRate).padStart(9)} ${String(peerRate).padStart(9)}   ${(ourRate / peerRate).toFixed(2)}×`,
  );
  console.log(`${''.padEnd(26)} p99 ms ${String(m(ours, p99)).padStart(8)} ${String(m(peers, p99)).padStart(9)}   ${(m(ours, p99) / m(peers, p99)).toFixed(2)}×`);
  console.log(`${''.padEnd(26)} vs ceiling ${pct(ourRate, ceilingOurs).padStart(5)} ${pct(peerRate, ceilingPeer).padStart(9)}`);
}
console.log(`node:http + 1 GET ceiling (median of each side's runs): ${ceilingOurs} / ${ceilingPeer} req/s`);
if (baselines.length > 0) {
  const ceilingBaseline = m(baselines, 'ceiling');
  console.log(`\nbaseline build (${BASELINE_BIN}), medians of the same rounds:`);
  for (const [label, rps] of [
    ['device authorization', 'auth'],
    ['polling (pending codes)', 'poll'],
  ] as const) {
    const before = m(baselines, rps);
    console.log(
      `${label.padEnd(26)} req/s ${String(before).padStart(9)}   peer ratio ${(before / m(peers, rps)).toFixed(2)}×   vs ceiling ${pct(before, ceilingBaseline)}   this build ÷ baseline ${(m(ours, rps) / before).toFixed(2)}×`,
    );
  }
}
