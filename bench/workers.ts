/**
 * One worker vs several (WORKERS, README "Every core"), on Redis, in one run:
 *
 *   npx tsx bench/workers.ts            # WORKER_COUNTS=1,2 DURATION=10s WARMUP=3s ROUNDS=2
 *
 * For each round and each worker count (interleaved: 1, 2, 1, 2, …): start devicegate with WORKERS=n
 * (the server NOT pinned, so its workers may use every core; wrk and redis-server pinned to LOAD_CPU as
 * in the other scripts), then measure POST /oauth/device/authorize and POST /oauth/token polling
 * POLL_CODES (20,000) pending grants filled beforehand (bench/fill-grants.ts). Prints req/s, p50, p99 and
 * the ratio of each count to one worker (medians over the rounds).
 *
 * On a machine with as many cores as the server would use, this measures scaling. On the 2-core
 * machine this was written on, wrk and Redis need most of one core: a second worker competes with them
 * for it, so the ratio here is a lower bound for what a second core gives and says nothing about 4+.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { fillPendingGrants } from './fill-grants.js';
import {
  BENCH_DIR, benchServerEnv, commonSettings, envInt, fmt, freePort, HOST, init, measure, median, privateRedisPort, rcli, start,
  startRedis, stop, waitReady, type Window,
} from './lib.js';

const S = commonSettings();
const COUNTS = (process.env.WORKER_COUNTS ?? '1,2').split(',').map((n) => Number(n.trim()));
const ROUNDS = envInt('ROUNDS', 2, 1, 20);
const POLL_CODES = envInt('POLL_CODES', 20_000, 1, 1_000_000);
const GT = encodeURIComponent('urn:ietf:params:oauth:grant-type:device_code');
const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
const OUT = join(BENCH_DIR, 'results', `workers-${stamp}`);
mkdirSync(OUT, { recursive: true });
init(S, OUT, { loadgen: process.env.LOADGEN ?? 'wrk', redis: 'apt-get install -y redis-server' });

const redisProc = await startRedis();
const redis = new Redis({ host: HOST, port: privateRedisPort() });
const rows: Record<number, { authorize: Window[]; poll: Window[] }> = {};
try {
  for (let round = 1; round <= ROUNDS; round++) {
    for (const workers of COUNTS) {
      rcli('flushall');
      const dir = join(OUT, `round${round}-workers${workers}`);
      mkdirSync(dir, { recursive: true });
      const codesFile = join(dir, 'codes.txt');
      await fillPendingGrants(redis, POLL_CODES, POLL_CODES, codesFile);
      const port = await freePort();
      const base = `http://${HOST}:${port}`;
      const env: NodeJS.ProcessEnv = {
        ...process.env, PORT: String(port), HOST, LOG_LEVEL: 'warn', NODE_ENV: 'production',
        ...benchServerEnv(dir), REDIS_URL: `redis://${HOST}:${privateRedisPort()}/0`, WORKERS: String(workers),
      };
      // Not pinned: taskset on the primary would hold every worker to one CPU. `start` pins to the CPU
      // list it is given; '0-N' is every CPU.
      const everyCpu = `0-${Math.max(S.serverCpu, S.loadCpu)}` as unknown as number;
      const server = start(`devicegate-w${workers}-r${round}`, everyCpu, process.execPath, ['--import', 'tsx', 'src/main.ts'], env, undefined);
      try {
        await waitReady(`${base}/healthz`, server);
        // Every worker up: the readiness of one says nothing of the others; give them the time to start.
        await new Promise((resolve) => setTimeout(resolve, 1_500 * workers));
        const pids = [server.pid, redisProc.pid];
        const authorize = await measure(`authorize-w${workers}`, `${base}/oauth/device/authorize`, {
          script: 'form.lua', env: { BODY: 'client_id=demo-cli&scope=openid' }, body: 'client_id=demo-cli&scope=openid',
        }, pids, server.pid, dir);
        const poll = await measure(
          `poll-w${workers}`,
          `${base}/oauth/token`,
          { script: 'poll.lua', env: { CODES_FILE: codesFile, BODY_PREFIX: `grant_type=${GT}&client_id=demo-cli&device_code=`, STATE_FILE: join(dir, 'poll-state.txt'), THREADS: String(S.threads) } },
          pids,
          server.pid,
          dir,
          (load) => load.socket_errors + (load.statuses['500'] ?? 0) + (load.statuses['503'] ?? 0),
        );
        (rows[workers] ??= { authorize: [], poll: [] }).authorize.push(authorize);
        rows[workers]!.poll.push(poll);
        console.log(
          `round ${round}, WORKERS=${workers}: authorize ${fmt(authorize.rps)} req/s p99 ${fmt(authorize.p99_ms, 2)} ms; ` +
            `poll ${fmt(poll.rps)} req/s p99 ${fmt(poll.p99_ms, 2)} ms (${JSON.stringify(poll.errors)})`,
        );
      } finally {
        await stop(server);
      }
    }
  }
} finally {
  redis.disconnect();
  await stop(redisProc);
}

const base = rows[COUNTS[0]!]!;
const summary = COUNTS.map((workers) => {
  const row = rows[workers]!;
  const m = (windows: Window[], key: 'rps' | 'p99_ms') => median(windows.map((w) => w[key]));
  return {
    workers,
    authorize_rps: Math.round(m(row.authorize, 'rps')),
    authorize_p99_ms: m(row.authorize, 'p99_ms'),
    poll_rps: Math.round(m(row.poll, 'rps')),
    poll_p99_ms: m(row.poll, 'p99_ms'),
    authorize_ratio: Number((m(row.authorize, 'rps') / m(base.authorize, 'rps')).toFixed(3)),
    poll_ratio: Number((m(row.poll, 'rps') / m(base.poll, 'rps')).toFixed(3)),
  };
});
writeFileSync(join(OUT, 'summary.json'), JSON.stringify(summary, null, 2));
console.log(JSON.stringify(summary, null, 2));
