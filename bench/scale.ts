/**
 * Flat as it grows (issue 13): device authorization and polling throughput and p99 with SIZES pending
 * grants in Redis (default 1,000 then 1,000,000), in one run, with everything else the same.
 *
 *   npx tsx bench/scale.ts                         # SIZES=1000,1000000 DURATION=10s WARMUP=3s
 *   SIZES=1000,100000 DURATION=5s npx tsx bench/scale.ts
 *
 * Per size: a private Redis filled with SIZE pending grants, pipelined (FILL_BATCH, 5,000 per pipeline)
 * through the server's own code path — the key builders, the grant hash encoding and the
 * create-grant.lua script (src/store/redis/, bench/fill-grants.ts). Then ROUNDS (2) interleaved rounds
 * over the sizes, each starting devicegate (pinned like bench/poll.ts) on that size's Redis and measuring:
 *   a. POST /oauth/device/authorize with wrk (bench/lua/form.lua): new grants on top of the SIZE ones;
 *   b. POST /oauth/token polling POLL_CODES (default 100,000, at most SIZE) of the filled grants, spread
 *      evenly over all of them, cycling (bench/lua/poll.lua). At 1,000 grants every code is polled
 *      many times a second, so most answers are slow_down; at 1,000,000 most are authorization_pending:
 *      both are one EVALSHA that reads five fields and writes one or two (the response mix is printed).
 * Prints req/s and p99 per size (medians over the rounds) and the ratio of the largest size to the
 * smallest, Redis used_memory and the fill rate. Raw outputs: bench/results/scale-<stamp>/ (git-ignored).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { fillPendingGrants } from './fill-grants.js';
import {
  BENCH_DIR, benchServerEnv, commonSettings, envInt, fmt, freePort, HOST, init, measure, median, privateRedisPort, type Proc,
  start, startRedis, stop, waitReady, type Window,
} from './lib.js';

const S = commonSettings();
const SIZES = (process.env.SIZES ?? '1000,1000000').split(',').map((size) => Number(size.trim()));
const POLL_CODES = envInt('POLL_CODES', 100_000, 1, 10_000_000);
const FILL_BATCH = envInt('FILL_BATCH', 5_000, 1, 100_000);
const GT = encodeURIComponent('urn:ietf:params:oauth:grant-type:device_code');
const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
const OUT = join(BENCH_DIR, 'results', `scale-${stamp}`);
mkdirSync(OUT, { recursive: true });
init(S, OUT, { loadgen: process.env.LOADGEN ?? 'wrk', redis: 'apt-get install -y redis-server' });

interface SizeResult {
  size: number;
  fill_seconds: number;
  used_memory_mb: number;
  authorize: Window;
  poll: Window;
}

// Every size gets its own private Redis, filled once; then ROUNDS interleaved rounds (1k, 1M, 1k, 1M, …)
// so that a slow patch of this shared VM does not land on one size only. Medians over the rounds.
const ROUNDS = envInt('ROUNDS', 2, 1, 20);
const stores: { size: number; redis: Proc; port: number; codesFile: string; fill: { seconds: number; polled: number }; usedMemory: number }[] = [];
const windows = new Map<number, { authorize: Window[]; poll: Window[] }>();
try {
  for (const size of SIZES) {
    const redisProc = await startRedis();
    const port = privateRedisPort();
    const client = new Redis({ host: HOST, port });
    const dir = join(OUT, `size-${size}`);
    mkdirSync(dir, { recursive: true });
    const codesFile = join(dir, 'codes.txt');
    const filled = await fillPendingGrants(client, size, Math.min(POLL_CODES, size), codesFile, FILL_BATCH);
    const usedMemory = Number(/used_memory:(\d+)/.exec(await client.info('memory'))![1]);
    client.disconnect();
    stores.push({ size, redis: redisProc, port, codesFile, fill: filled, usedMemory });
    console.log(`size ${size}: filled in ${fmt(filled.seconds, 1)} s (${fmt(size / filled.seconds)}/s), used_memory ${fmt(usedMemory / 1e6, 1)} MB, polling ${filled.polled} codes`);
  }
  for (let round = 1; round <= ROUNDS; round++) {
    for (const store of stores) {
      const dir = join(OUT, `size-${store.size}`, `round${round}`);
      mkdirSync(dir, { recursive: true });
      const port = await freePort();
      const base = `http://${HOST}:${port}`;
      const env: NodeJS.ProcessEnv = {
        ...process.env, PORT: String(port), HOST, LOG_LEVEL: 'warn', NODE_ENV: 'production',
        ...benchServerEnv(dir), REDIS_URL: `redis://${HOST}:${store.port}/0`,
      };
      const server = start(`devicegate-${store.size}-r${round}`, S.serverCpu, process.execPath, ['--import', 'tsx', 'src/main.ts'], env);
      try {
        await waitReady(`${base}/healthz`, server);
        const pids = [server.pid, store.redis.pid];
        const authorize = await measure(`authorize-${store.size}`, `${base}/oauth/device/authorize`, {
          script: 'form.lua', env: { BODY: 'client_id=demo-cli&scope=openid' }, body: 'client_id=demo-cli&scope=openid',
        }, pids, server.pid, dir);
        const poll = await measure(
          `poll-${store.size}`,
          `${base}/oauth/token`,
          { script: 'poll.lua', env: { CODES_FILE: store.codesFile, BODY_PREFIX: `grant_type=${GT}&client_id=demo-cli&device_code=`, STATE_FILE: join(OUT, `size-${store.size}`, 'poll-state.txt'), THREADS: String(S.threads) } },
          pids,
          server.pid,
          dir,
          (load) => load.socket_errors + (load.statuses['500'] ?? 0) + (load.statuses['503'] ?? 0),
        );
        const entry = windows.get(store.size) ?? { authorize: [], poll: [] };
        entry.authorize.push(authorize);
        entry.poll.push(poll);
        windows.set(store.size, entry);
        console.log(
          `round ${round}, size ${store.size}: authorize ${fmt(authorize.rps)} req/s p99 ${fmt(authorize.p99_ms, 2)} ms; ` +
            `poll ${fmt(poll.rps)} req/s p99 ${fmt(poll.p99_ms, 2)} ms ${JSON.stringify(poll.errors)}`,
        );
      } finally {
        await stop(server);
      }
    }
  }
} finally {
  for (const store of stores) await stop(store.redis);
}

const results: SizeResult[] = stores.map((store) => {
  const entry = windows.get(store.size)!;
  const pick = (list: Window[]) => {
    // The window with the median req/s (its p99 goes with it).
    const sorted = [...list].sort((a, b) => a.rps - b.rps);
    return { ...sorted[Math.floor((sorted.length - 1) / 2)]!, rps: median(list.map((w) => w.rps)), p99_ms: median(list.map((w) => w.p99_ms)) };
  };
  return { size: store.size, fill_seconds: store.fill.seconds, used_memory_mb: store.usedMemory / 1e6, authorize: pick(entry.authorize), poll: pick(entry.poll) };
});

const first = results[0]!;
const last = results[results.length - 1]!;
const summary = {
  sizes: results.map((r) => r.size),
  rows: results.map((r) => ({
    size: r.size,
    used_memory_mb: Number(r.used_memory_mb.toFixed(1)),
    authorize_rps: Math.round(r.authorize.rps), authorize_p99_ms: r.authorize.p99_ms,
    poll_rps: Math.round(r.poll.rps), poll_p99_ms: r.poll.p99_ms, poll_answers: r.poll.errors,
  })),
  ratio_largest_to_smallest: {
    authorize_rps: Number((last.authorize.rps / first.authorize.rps).toFixed(3)),
    authorize_p99: Number((last.authorize.p99_ms / first.authorize.p99_ms).toFixed(3)),
    poll_rps: Number((last.poll.rps / first.poll.rps).toFixed(3)),
    poll_p99: Number((last.poll.p99_ms / first.poll.p99_ms).toFixed(3)),
  },
};
writeFileSync(join(OUT, 'summary.json'), JSON.stringify(summary, null, 2));
console.log(JSON.stringify(summary, null, 2));
