/**
 * Benchmark of device-code polling, POST /oauth/token with grant_type=urn:ietf:params:oauth:grant-type:device_code
 * (not a test: it prints figures).
 *
 *   npx tsx bench/poll.ts                                # defaults: ~2.5 minutes
 *   DURATION=5s WARMUP=2s CODES=5000 npx tsx bench/poll.ts
 *
 * In one run, against 127.0.0.1 only, with wrk (-t1 -c32 -d10s by default, bench/lua/poll.lua) after a
 * warm-up, each request polling the next of CODES (10 000) distinct pending device codes, cycling, which
 * the script first obtains from the server's own device authorization endpoint:
 *   1. devicegate, in-memory store
 *   2. devicegate, Redis store (a private redis-server on a free port, never the shared 6379)
 *      — each of the two also on a "pending pool": enough codes (POOL, by default sized from the rate
 *        just measured × the 5 s interval × 2) that no code is polled sooner than its interval, so
 *        every answer is authorization_pending; with 10 000 codes at ~10k req/s each code is polled
 *        about once a second and devicegate rightly answers slow_down (RFC 8628 §3.5) to most polls
 *   3. the peer: panva/oidc-provider with /work/shared/peer-bench's server.mjs on the same Redis
 *      (copied to bench/.peer/, npm ci there once), seeded with its drive.mjs, polled at its /token
 *   4. ceiling: bench/ceiling.mjs CEILING_MODE=poll, a bare Koa 3 handler doing one Redis GET per poll
 *   5. the same on node:http alone (CEILING_SERVER=node-http), the shape of the peer harness's own
 *      `http-redis` ceiling: the stricter bar
 * and prints req/s, p50, p99, the response mix, how often each code was polled, the ratios to the peer
 * and to the ceiling, and Redis traffic per poll (MONITOR round trips, INFO commandstats totals).
 *
 * Pinning, noise detection and process handling are bench/device-authorize.ts's (bench/lib.ts).
 * Raw outputs go to bench/results/poll-<stamp>/ (git-ignored). See bench/README.md for every knob.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import {
  BENCH_DIR, breakdown, commonSettings, countRedis, cpuProbe, envInt, fail, fmt, freePort, has, HOST, init, LOADGEN, type Load,
  type LoadSpec, measure, median, perReq, pinned, pkgVersion, privateRedisPort, type Proc, rcli, type RedisCount,
  running, runChild, shown, sleep, start, startRedis, stop, TASKSET, versionOf, waitReady, type Window, benchServerEnv,
} from './lib.js';

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const GT = encodeURIComponent(DEVICE_CODE_GRANT);
/** devicegate's device_code.interval in config/devicegate.example.json, and RFC 8628's default (the peer's). */
const INTERVAL_S = 5;
/** A poll counts as early (slow_down) when it comes more than this before last poll + interval (src/domain/poll-policy.ts). */
const LEEWAY_S = Math.min(1, INTERVAL_S * 0.2);
/** Probe timings (lib cpuProbe) further apart than this within a run: the VM's speed changed; the report says so. */
const PROBE_TOLERANCE = 0.15;

// ---------------------------------------------------------------- settings (env)
function envPool(): number | 'auto' {
  const raw = process.env.POOL;
  if (raw === undefined || raw === '' || raw === 'auto') return 'auto';
  return envInt('POOL', 0, 1, 2_000_000);
}
const S = {
  ...commonSettings(),
  codes: envInt('CODES', 10_000, 1, 1_000_000),
  pool: envPool(),
  poolFactor: Number(process.env.POOL_FACTOR || 2),
  poolMax: envInt('POOL_MAX', 250_000, 1, 2_000_000),
  seedConns: envInt('SEED_CONNS', 32, 1, 1_000),
  configs: (process.env.CONFIGS || 'memory,redis,peer,ceiling,ceiling-http').split(',').map((s) => s.trim()).filter(Boolean),
  peerSource: resolve(process.env.PEER_SOURCE || '/work/shared/peer-bench'),
  loadgen: 'wrk',
};
if (!(S.poolFactor >= 1 && S.poolFactor <= 100)) fail(`POOL_FACTOR must be a number in [1, 100], got ${process.env.POOL_FACTOR}`);
if (process.env.LOADGEN && process.env.LOADGEN !== 'wrk') fail('bench/poll.ts needs wrk (every request carries another device code)');
const CONFIG_NAMES = ['memory', 'redis', 'peer', 'ceiling', 'ceiling-http'] as const;
type ConfigName = (typeof CONFIG_NAMES)[number];
for (const c of S.configs) if (!(CONFIG_NAMES as readonly string[]).includes(c)) fail(`CONFIGS: unknown ${c} (use ${CONFIG_NAMES.join(',')})`);
const CONFIGS = CONFIG_NAMES.filter((c) => S.configs.includes(c));

/** A measured row: a configuration, and for devicegate also its pending-pool variant. */
type RowName = 'memory' | 'memory-pool' | 'redis' | 'redis-pool' | 'peer' | 'ceiling' | 'ceiling-http';
const ROWS: RowName[] = CONFIGS.flatMap((c): RowName[] => (c === 'memory' || c === 'redis' ? [c, `${c}-pool`] : [c]));
const PEER_DIR = join(BENCH_DIR, '.peer');
const LABEL: Record<RowName, string> = {
  memory: '1. devicegate, in-memory store',
  'memory-pool': '1p. devicegate, in-memory, pending pool',
  redis: '2. devicegate, Redis store',
  'redis-pool': '2p. devicegate, Redis, pending pool',
  peer: '3. peer: oidc-provider on Redis',
  ceiling: '4. ceiling: bare Koa + 1 Redis GET',
  'ceiling-http': '5. ceiling: bare node:http + 1 Redis GET',
};

const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
const OUT = resolve(process.env.OUT || join(BENCH_DIR, 'results', `poll-${stamp}`));
mkdirSync(OUT, { recursive: true });

init(S, OUT, {
  loadgen: 'wrk',
  redis: CONFIGS.some((c) => c !== 'memory') ? 'apt-get install -y redis-server (or run CONFIGS=memory)' : undefined,
});
if (LOADGEN !== 'wrk') fail('bench/poll.ts needs wrk (every request carries another device code); apt-get install -y wrk');

// ---------------------------------------------------------------- HTTP client for seeding and counting
const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** One form POST over a kept-alive connection. */
function postForm(url: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((res, rej) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
      },
      (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => res({ status: r.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        r.on('error', rej);
      },
    );
    req.on('error', rej);
    req.setTimeout(10_000, () => req.destroy(new Error(`timeout: POST ${url}`)));
    req.end(body);
  });
}

/** The OAuth `error` of a response ("200" for a success, "unparsed" for anything else). */
function outcome(r: { status: number; text: string }): string {
  if (r.status === 200) return '200';
  try {
    return String((JSON.parse(r.text) as { error?: unknown }).error ?? 'unparsed');
  } catch {
    return 'unparsed';
  }
}

interface Seeded {
  codes: number;
  seconds: number;
  rps: number;
}

/**
 * n device authorizations through the server's real endpoint, SEED_CONNS at a time; the device codes,
 * one a line, go to `file`. Any answer without a device_code stops the benchmark.
 */
async function seed(url: string, body: string, n: number, file: string, name: string): Promise<Seeded> {
  const codes: string[] = [];
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < n) {
      next++;
      const r = await postForm(url, body);
      let code: unknown;
      try {
        code = (JSON.parse(r.text) as { device_code?: unknown }).device_code;
      } catch {
        /* not JSON */
      }
      if (r.status !== 200 || typeof code !== 'string') fail(`${name}: seeding POST ${url} answered ${r.status} ${r.text.slice(0, 300)}`);
      codes.push(code);
    }
  };
  await Promise.all(Array.from({ length: Math.min(S.seedConns, n) }, worker));
  const seconds = (performance.now() - t0) / 1000;
  writeFileSync(file, `${codes.join('\n')}\n`);
  return { codes: codes.length, seconds, rps: codes.length / seconds };
}

/** Polls each code once, in order, one at a time; tallies the answers. */
async function pollEach(url: string, prefix: string, codes: string[]): Promise<Record<string, number>> {
  const tally: Record<string, number> = {};
  for (const code of codes) {
    const o = outcome(await postForm(url, prefix + encodeURIComponent(code)));
    tally[o] = (tally[o] ?? 0) + 1;
  }
  return tally;
}

/**
 * Redis traffic per poll: `codes` polled once each (first poll: authorization_pending), then again at
 * once (devicegate: slow_down; the peer: authorization_pending again), each pass counted on its own.
 */
async function countPollsTwice(config: 'redis' | 'peer', url: string, prefix: string, codes: string[], dir: string): Promise<CountResult[]> {
  const results: CountResult[] = [];
  for (const [label, pass] of [['first poll of a fresh code', 'first'], ['same codes again at once', 'again']] as const) {
    let answers: Record<string, number> = {};
    const redis = await countRedis(`${config}-poll-${pass}`, dir, codes.length, async () => {
      answers = await pollEach(url, prefix, codes);
      return codes.length - EXPECTED.reduce((a, e) => a + (answers[e] ?? 0), 0);
    });
    results.push({ config, label, answers, redis });
  }
  return results;
}

const readCodes = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean);

// ---------------------------------------------------------------- the peer (bench/.peer)
const PEER_FILES = ['package.json', 'package-lock.json', 'server.mjs', 'redis-adapter.mjs', 'drive.mjs'];

/** Copies the peer harness to bench/.peer/ and installs it there (npm ci), unless already installed from the same lock file. */
function preparePeer(): void {
  for (const f of PEER_FILES) if (!existsSync(join(S.peerSource, f))) fail(`peer: ${join(S.peerSource, f)} not found (PEER_SOURCE)`);
  mkdirSync(PEER_DIR, { recursive: true });
  const lock = readFileSync(join(S.peerSource, 'package-lock.json'), 'utf8');
  const installed =
    existsSync(join(PEER_DIR, 'node_modules', 'oidc-provider', 'package.json')) &&
    existsSync(join(PEER_DIR, 'package-lock.json')) &&
    readFileSync(join(PEER_DIR, 'package-lock.json'), 'utf8') === lock;
  // written, not copied: copies of the read-only originals would stay read-only
  for (const f of PEER_FILES) writeFileSync(join(PEER_DIR, f), readFileSync(join(S.peerSource, f)));
  if (installed) return;
  console.log(`peer: npm ci in ${shown(PEER_DIR)} (only when its package-lock.json changes)`);
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: PEER_DIR, encoding: 'utf8' });
  writeFileSync(join(OUT, 'peer-npm-ci.log'), `${r.stdout ?? ''}${r.stderr ?? ''}`);
  if (r.status !== 0) fail(`peer: npm ci failed in ${shown(PEER_DIR)}; see ${shown(join(OUT, 'peer-npm-ci.log'))}`);
}

// ---------------------------------------------------------------- one configuration
interface RowResult {
  window: Window;
  codes: number;
  seed?: Seeded;
  /** unexpected answers in the measured window (anything but the expected 400s) plus socket errors */
  unexpected: number;
  /** Redis commands per poll over warm-up + window(s), from INFO commandstats ÷ responses */
  under_load?: Record<string, number>;
  /** lib cpuProbe() on the server CPU just before the warm-up and just after the window, ms */
  probe_ms: [number, number];
}
interface CountResult {
  config: ConfigName;
  /** which polls: the first of fresh codes, or the same codes again at once */
  label: string;
  answers: Record<string, number>;
  redis: RedisCount;
}
interface ConfigResult {
  rows: Partial<Record<RowName, RowResult>>;
  counts: CountResult[];
}

/** The answers a poll of a pending code may get: devicegate may also say slow_down; the peer never does. */
const EXPECTED = ['authorization_pending', 'slow_down'];
const unexpectedOf = (l: Load) => l.requests - EXPECTED.reduce((a, e) => a + (l.errors[e] ?? 0), 0) + l.socket_errors;

/** RESETSTAT, warm-up + window (lib measure), INFO commandstats ÷ all responses of those loads. */
async function measureRow(row: RowName, tokenUrl: string, codesFile: string, prefix: string, serverPid: number, dir: string): Promise<RowResult> {
  const state = join(dir, `${row}-next-code.txt`);
  writeFileSync(state, '0\n');
  const spec: LoadSpec = {
    script: 'poll.lua',
    env: { CODES_FILE: codesFile, BODY_PREFIX: prefix, STATE_FILE: state, THREADS: String(S.threads) },
  };
  const useRedis = row !== 'memory' && row !== 'memory-pool';
  if (useRedis) rcli('config', 'resetstat');
  const pids = [serverPid, ...[...running].filter((p) => p.name === 'redis').map((p) => p.pid)];
  const before = cpuProbe(S.serverCpu);
  const window = await measure(row, tokenUrl, spec, pids, serverPid, dir, unexpectedOf);
  const after = cpuProbe(S.serverCpu);
  const codes = readCodes(codesFile).length;
  const result: RowResult = { window, codes, unexpected: unexpectedOf(window), probe_ms: [before, after] };
  if (useRedis) {
    const stats = rcli('info', 'commandstats');
    writeFileSync(join(dir, `${row}-load-commandstats.txt`), stats);
    const responses = totalResponses(dir, row);
    const cs: Record<string, number> = {};
    for (const line of stats.split('\n')) {
      const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
      if (m && !['info', 'config|resetstat'].includes(m[1]!)) cs[m[1]!] = Number(m[2]) / responses;
    }
    result.under_load = cs;
  }
  return result;
}

/** Responses of every wrk run of a row (warm-ups, windows, retries: <row>-warmup*.txt, <row>-wrk*.txt), from their RESULT lines. */
function totalResponses(dir: string, row: RowName): number {
  let n = 0;
  for (const f of readdirSync(dir)) {
    if (!f.startsWith(`${row}-warmup`) && !f.startsWith(`${row}-wrk`)) continue;
    const line = readFileSync(join(dir, f), 'utf8').split('\n').find((l) => l.startsWith('RESULT '));
    if (line) n += (JSON.parse(line.slice(7)) as { requests: number }).requests;
  }
  return n;
}

/** The pending pool for a rate: rate × interval × POOL_FACTOR codes, rounded up to 1000, within [CODES, POOL_MAX]. */
function poolFor(rps: number): number {
  if (S.pool !== 'auto') return S.pool;
  const wanted = Math.ceil((rps * INTERVAL_S * S.poolFactor) / 1000) * 1000;
  return Math.min(S.poolMax, Math.max(S.codes, wanted));
}

function printRow(r: RowResult): void {
  const x = r.window;
  const e = x.errors;
  console.log(
    `    ${fmt(x.rps)} req/s  p50 ${fmt(x.p50_ms, 2)} ms  p99 ${fmt(x.p99_ms, 2)} ms  ` +
      `pending ${e.authorization_pending ?? 0}  slow_down ${e.slow_down ?? 0}  other ${r.unexpected}  ` +
      `each code every ${fmt(r.codes / x.rps, 1)} s  CPU server ${fmt(x.server_cpu_pct)}% load ${fmt(x.load_cpu_pct)}% other ${fmt(x.other_pct)}%  ` +
      `probe ${fmt(r.probe_ms[0], 1)}/${fmt(r.probe_ms[1], 1)} ms`,
  );
}

async function runDevicegate(cfg: 'memory' | 'redis', run: number, dir: string): Promise<ConfigResult> {
  const port = await freePort();
  const base = `http://${HOST}:${port}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env, PORT: String(port), HOST, LOG_LEVEL: 'warn', NODE_ENV: 'production',
    ...benchServerEnv(dir),
  };
  delete env.REDIS_URL;
  if (cfg === 'redis') {
    env.REDIS_URL = `redis://${HOST}:${privateRedisPort()}/0`;
    rcli('flushall');
  }
  const authUrl = `${base}/oauth/device/authorize`;
  const tokenUrl = `${base}/oauth/token`;
  const authBody = 'client_id=demo-cli&scope=openid';
  const prefix = `grant_type=${GT}&client_id=demo-cli&device_code=`;
  const proc = start(`run${run}-devicegate-${cfg}`, S.serverCpu, process.execPath, ['--import', 'tsx', 'src/main.ts'], env);
  const rows: ConfigResult['rows'] = {};
  const counts: CountResult[] = [];
  try {
    await waitReady(`${base}/healthz`, proc);
    await sanity(cfg, authUrl, authBody, tokenUrl, prefix, run, dir);

    // 10 000 codes (CODES)
    const file = join(dir, `${cfg}-codes.txt`);
    const seeded = await seed(authUrl, authBody, S.codes, file, LABEL[cfg]);
    console.log(`    seeded ${seeded.codes} codes in ${fmt(seeded.seconds, 1)} s (${fmt(seeded.rps)}/s)`);
    rows[cfg] = { ...(await measureRow(cfg, tokenUrl, file, prefix, proc.pid, dir)), seed: seeded };
    printRow(rows[cfg]);

    if (cfg === 'redis') {
      // Redis per poll: fresh codes, polled once (first poll: authorization_pending), then again at once (slow_down)
      const countFile = join(dir, `${cfg}-count-codes.txt`);
      await seed(authUrl, authBody, S.countRequests, countFile, LABEL[cfg]);
      counts.push(...(await countPollsTwice('redis', tokenUrl, prefix, readCodes(countFile), dir)));
    }

    // the pending pool
    const row = `${cfg}-pool` as const;
    const n = poolFor(rows[cfg].window.rps);
    const poolFile = join(dir, `${row}-codes.txt`);
    console.log(`  ${LABEL[row]}`);
    const pooled = await seed(authUrl, authBody, n, poolFile, LABEL[row]);
    console.log(
      `    seeded ${pooled.codes} codes in ${fmt(pooled.seconds, 1)} s (${fmt(pooled.rps)}/s)` +
        (S.pool === 'auto' ? ` = ${fmt(rows[cfg].window.rps)} req/s × ${INTERVAL_S} s × ${S.poolFactor}, rounded` : ' (POOL)'),
    );
    rows[row] = { ...(await measureRow(row, tokenUrl, poolFile, prefix, proc.pid, dir)), seed: pooled };
    printRow(rows[row]);
    return { rows, counts };
  } finally {
    await stop(proc);
  }
}

/** One device authorization and one poll of its code must give 200 and 400 authorization_pending. */
async function sanity(name: string, authUrl: string, authBody: string, tokenUrl: string, prefix: string, run: number, dir: string): Promise<void> {
  const a = await postForm(authUrl, authBody);
  let code: unknown;
  try {
    code = (JSON.parse(a.text) as { device_code?: unknown }).device_code;
  } catch {
    /* not JSON */
  }
  if (a.status !== 200 || typeof code !== 'string') fail(`${name}: POST ${authUrl} answered ${a.status} ${a.text.slice(0, 300)}`);
  const p = await postForm(tokenUrl, prefix + encodeURIComponent(code));
  if (p.status !== 400 || outcome(p) !== 'authorization_pending') {
    fail(`${name}: the first poll of a fresh code answered ${p.status} ${p.text.slice(0, 300)} (expected 400 authorization_pending)`);
  }
  if (run === 1) writeFileSync(join(dir, `${name}-poll-sample.json`), p.text);
}

async function runPeer(run: number, dir: string): Promise<ConfigResult> {
  const port = await freePort();
  const base = `http://${HOST}:${port}`;
  const redisUrl = `redis://${HOST}:${privateRedisPort()}/0`;
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), HOST, REDIS_URL: redisUrl, NODE_ENV: 'production' };
  rcli('flushall');
  const client = 'bench-device-client';
  const authUrl = `${base}/device/auth`;
  const tokenUrl = `${base}/token`;
  const authBody = `client_id=${client}&scope=openid`;
  const prefix = `grant_type=${GT}&client_id=${client}&device_code=`;
  const proc = start(`run${run}-peer`, S.serverCpu, process.execPath, ['server.mjs'], env, join(OUT, `run${run}-peer.log`), PEER_DIR);
  const counts: CountResult[] = [];
  try {
    await waitReady(`${base}/.well-known/openid-configuration`, proc);
    await sanity('peer', authUrl, authBody, tokenUrl, prefix, run, dir);
    // seeded its way: drive.mjs (fetch, 32 at a time), on the load CPU
    const file = join(dir, 'peer-codes.txt');
    const drive = async (n: number, out: string) => {
      const [c, a] = pinned(S.loadCpu, process.execPath, [join(PEER_DIR, 'drive.mjs'), 'auth', '--n', String(n), '--c', '32', '--out', out]);
      const line = (await runChild(c, a, { ...process.env, BASE_URL: base, AUTH_PATH: '/device/auth', CLIENT_ID: client }, 300_000)).trim().split('\n').pop()!;
      const r = JSON.parse(line) as { ms: number; statuses: Record<string, number> };
      const got = readCodes(out).length;
      if (got !== n || (r.statuses['200'] ?? 0) !== n) fail(`peer: drive.mjs auth --n ${n} gave ${got} codes: ${line}`);
      return { codes: n, seconds: r.ms / 1000, rps: n / (r.ms / 1000) };
    };
    const seeded = await drive(S.codes, file);
    console.log(`    seeded ${seeded.codes} codes with its drive.mjs in ${fmt(seeded.seconds, 1)} s (${fmt(seeded.rps)}/s)`);
    const row: RowResult = { ...(await measureRow('peer', tokenUrl, file, prefix, proc.pid, dir)), seed: seeded };
    printRow(row);

    const countFile = join(dir, 'peer-count-codes.txt');
    await drive(S.countRequests, countFile);
    counts.push(...(await countPollsTwice('peer', tokenUrl, prefix, readCodes(countFile), dir)));
    return { rows: { peer: row }, counts };
  } finally {
    await stop(proc);
  }
}

/** Row 4 (`ceiling`: Koa 3) or row 5 (`ceiling-http`: node:http alone, like the peer harness's own `http-redis` ceiling). */
async function runCeiling(cfg: 'ceiling' | 'ceiling-http', run: number, dir: string): Promise<ConfigResult> {
  const port = await freePort();
  const base = `http://${HOST}:${port}`;
  rcli('flushall');
  // codes shaped like devicegate's (32 random bytes, base64url); the ceiling stores a value under each before listening
  const file = join(dir, 'ceiling-codes.txt');
  writeFileSync(file, `${Array.from({ length: S.codes }, () => randomBytes(32).toString('base64url')).join('\n')}\n`);
  const env: NodeJS.ProcessEnv = {
    ...process.env, PORT: String(port), HOST, LOG_LEVEL: 'warn', NODE_ENV: 'production',
    REDIS_URL: `redis://${HOST}:${privateRedisPort()}/0`, CEILING_MODE: 'poll', CODES_FILE: file,
    CEILING_SERVER: cfg === 'ceiling' ? 'koa' : 'node-http',
  };
  const tokenUrl = `${base}/oauth/token`;
  const prefix = `grant_type=${GT}&client_id=demo-cli&device_code=`;
  const proc = start(`run${run}-${cfg}`, S.serverCpu, process.execPath, [join(BENCH_DIR, 'ceiling.mjs')], env);
  const counts: CountResult[] = [];
  try {
    await waitReady(`${base}/healthz`, proc);
    const codes = readCodes(file);
    const p = await postForm(tokenUrl, prefix + codes[0]);
    if (p.status !== 400 || outcome(p) !== 'authorization_pending') fail(`${cfg}: a poll answered ${p.status} ${p.text.slice(0, 300)}`);
    const row = await measureRow(cfg, tokenUrl, file, prefix, proc.pid, dir);
    printRow(row);
    const some = codes.slice(0, S.countRequests);
    let answers: Record<string, number> = {};
    const redis = await countRedis(`${cfg}-poll`, dir, some.length, async () => {
      answers = await pollEach(tokenUrl, prefix, some);
      return some.length - (answers.authorization_pending ?? 0);
    });
    counts.push({ config: cfg, label: 'polls of stored codes', answers, redis });
    return { rows: { [cfg]: row }, counts };
  } finally {
    await stop(proc);
  }
}

// ---------------------------------------------------------------- report
function report(runs: ConfigResult[], header: string): string {
  const lines: string[] = [header, ''];
  const rowsOf = (row: RowName) => runs.map((r) => r.rows[row]).filter((x): x is RowResult => x !== undefined);
  const med = (row: RowName, f: (r: RowResult) => number) => median(rowsOf(row).map(f));
  const rps = (row: RowName) => med(row, (r) => r.window.rps);
  const ceiling = rps('ceiling');
  const noisy = (row: RowName) => rowsOf(row).some((r) => r.window.other_pct > S.noiseMax);
  const cols = ['configuration', 'codes', 'req/s', 'p50 ms', 'p99 ms', 'pending', 'slow_down', 'other', 'poll/code', 'vs ceiling', 'RSS MB', 'CPU srv/load/other %', 'probe ms'];
  const w = [40, 7, 7, 7, 7, 8, 9, 6, 9, 10, 6, 20, 11];
  const cell = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  lines.push(cell(cols), cell(w.map((n) => '-'.repeat(n))));
  const share = (row: RowName, e: string) => med(row, (r) => (100 * (r.window.errors[e] ?? 0)) / r.window.requests);
  for (const row of ROWS) {
    const rs = rowsOf(row);
    if (!rs.length) continue;
    const x = rps(row);
    lines.push(
      cell([
        `${LABEL[row]}${noisy(row) ? ' *' : ''}`, fmt(med(row, (r) => r.codes)), fmt(x), fmt(med(row, (r) => r.window.p50_ms), 2),
        fmt(med(row, (r) => r.window.p99_ms), 2), `${fmt(share(row, 'authorization_pending'), 1)}%`, `${fmt(share(row, 'slow_down'), 1)}%`,
        String(rs.reduce((a, r) => a + r.unexpected, 0)), `${fmt(med(row, (r) => r.codes / r.window.rps), 1)} s`,
        Number.isFinite(ceiling) ? `${fmt((100 * x) / ceiling, 1)}%` : '–', fmt(med(row, (r) => r.window.rss_mb)),
        `${fmt(med(row, (r) => r.window.server_cpu_pct))}/${fmt(med(row, (r) => r.window.load_cpu_pct))}/${fmt(med(row, (r) => r.window.other_pct))}`,
        `${fmt(med(row, (r) => r.probe_ms[0]), 1)}/${fmt(med(row, (r) => r.probe_ms[1]), 1)}`,
      ]),
    );
  }
  lines.push(
    '',
    `pending / slow_down: share of the window's answers (400 authorization_pending / 400 slow_down); other: any other answer or socket error.`,
    `poll/code: codes ÷ req/s, how often each code was polled (devicegate answers slow_down to a poll more than ${LEEWAY_S} s early: sooner than ${INTERVAL_S - LEEWAY_S} s after the last).`,
    `probe ms: a fixed CPU loop on the server CPU just before the warm-up / after the window (lower = faster VM; /proc does not show the host taking CPU away).`,
  );
  runs.forEach((r, i) => {
    const probes = Object.values(r.rows).flatMap((x) => x?.probe_ms ?? []).filter(Number.isFinite);
    const lo = Math.min(...probes), hi = Math.max(...probes);
    if (probes.length && hi / lo > 1 + PROBE_TOLERANCE) {
      lines.push(
        '',
        `WARNING: the VM's CPU speed changed during run ${i + 1}: the probe took ${fmt(lo, 1)} to ${fmt(hi, 1)} ms (> ${fmt(100 * PROBE_TOLERANCE)}% apart). ` +
          'Ratios between rows measured at different speeds are not reliable; run again (RUNS=3 shows whether they hold).',
      );
    }
  });
  if (S.runs > 1) {
    lines.push('', `medians of ${S.runs} runs; req/s per run:`);
    for (const row of ROWS) lines.push(`  ${LABEL[row].padEnd(40)} ${rowsOf(row).map((r) => fmt(r.window.rps)).join(' / ')}`);
  }
  const noisyRows = ROWS.filter(noisy);
  if (noisyRows.length) {
    lines.push(
      '',
      `* WARNING: other processes (not started here) used more than NOISE_MAX=${S.noiseMax}% of a CPU during a measured window of ` +
        `${noisyRows.join(', ')} even after ${S.retries} retr${S.retries === 1 ? 'y' : 'ies'}: those req/s and ratios are not reliable. Run again on a quiet machine.`,
    );
  }

  // answers
  lines.push('');
  const all = ROWS.flatMap((row) => rowsOf(row));
  const bad = all.reduce((a, r) => a + r.unexpected, 0);
  const total = all.reduce((a, r) => a + r.window.requests, 0);
  lines.push(
    bad === 0
      ? `responses: all ${total} measured responses were 400 authorization_pending or slow_down (no other answer, no socket errors)`
      : `WARNING: ${bad} of ${total} measured responses were neither 400 authorization_pending nor slow_down, or hit socket errors — see the raw wrk outputs`,
  );
  const warmBad = all.reduce((a, r) => a + r.window.warmup_non200, 0);
  if (warmBad) lines.push(`WARNING: ${warmBad} other answers/socket errors during warm-ups`);
  for (const row of ['memory-pool', 'redis-pool'] as const) {
    const slow = rowsOf(row).reduce((a, r) => a + (r.window.errors.slow_down ?? 0), 0);
    if (slow) lines.push(`WARNING: ${LABEL[row]} got ${slow} slow_down: the pool was too small for the rate (POOL, POOL_FACTOR)`);
  }
  for (const row of ['peer', 'ceiling', 'ceiling-http'] as const) {
    const slow = rowsOf(row).reduce((a, r) => a + (r.window.errors.slow_down ?? 0), 0);
    if (slow) lines.push(`note: ${LABEL[row]} answered slow_down ${slow} times`);
  }

  // Redis per poll
  const counts = runs[0]?.counts ?? [];
  if (counts.length) lines.push('', `Redis per poll (CONFIG RESETSTAT, MONITOR, ${S.countRequests} sequential polls of fresh codes, run 1):`);
  for (const c of counts) {
    const answers = Object.entries(c.answers).map(([k, v]) => `${k} ${v}`).join(', ');
    lines.push(
      `  ${LABEL[c.config]}, ${c.label} → ${answers}${c.redis.non200 ? ` (${c.redis.non200} unexpected!)` : ''}`,
      `    round trips (top-level commands, MONITOR): ${fmt(perReq(c.redis.round_trips), 2)}   ${breakdown(c.redis.round_trips)}`,
      `    commands run inside Lua scripts:           ${fmt(perReq(c.redis.in_scripts), 2)}   ${breakdown(c.redis.in_scripts)}`,
      `    total commands (INFO commandstats):        ${fmt(perReq(c.redis.commandstats), 2)}   ${breakdown(c.redis.commandstats)}`,
    );
  }
  const loaded = ROWS.filter((row) => rowsOf(row)[0]?.under_load);
  if (loaded.length) lines.push('', 'Redis under load (INFO commandstats over warm-up + window ÷ responses, run 1):');
  for (const row of loaded) {
    const u = rowsOf(row)[0]!.under_load!;
    lines.push(`  ${LABEL[row].padEnd(40)} ${fmt(perReq(u), 2)}   ${breakdown(u)}`);
  }

  // ratios and targets
  const peer = rps('peer');
  const own = counts.filter((c) => c.config === 'redis');
  const targetRows = (['redis-pool', 'redis'] as const).filter((row) => Number.isFinite(rps(row)));
  const httpCeiling = rps('ceiling-http');
  if (targetRows.length && (Number.isFinite(peer) || Number.isFinite(ceiling) || Number.isFinite(httpCeiling))) {
    lines.push(
      '',
      `targets (issue)                            ${'vs peer: ≥ 3×'.padEnd(24)}  ${'vs ceiling (Koa): ≥ 60%'.padEnd(30)}  vs ceiling (node:http): ≥ 60%`,
    );
    for (const row of targetRows) {
      const x = rps(row);
      const unsure = (other: RowName) => (noisy(row) || noisy(other) ? ' (INCONCLUSIVE: noisy)' : '');
      const vsPeer = Number.isFinite(peer) ? `${fmt(x / peer, 2)}× → ${x / peer >= 3 ? 'met' : 'NOT met'}${unsure('peer')}` : '–';
      const vs = (c: number, name: RowName) => (Number.isFinite(c) ? `${fmt((100 * x) / c, 1)}% → ${x / c >= 0.6 ? 'met' : 'NOT met'}${unsure(name)}` : '–');
      lines.push(`  ${LABEL[row].padEnd(40)} ${vsPeer.padEnd(24)}  ${vs(ceiling, 'ceiling').padEnd(30)}  ${vs(httpCeiling, 'ceiling-http')}`);
    }
  } else if (own.length) {
    lines.push('', 'targets (issue):');
  }
  for (const c of own) {
    const trips = perReq(c.redis.round_trips);
    const evalsha = c.redis.round_trips.evalsha ?? 0;
    const ok = Math.abs(trips - 1) < 0.005 && Math.abs(evalsha - 1) < 0.005;
    lines.push(`  one Redis round trip (1 EVALSHA) per poll, ${c.label}: ${fmt(trips, 2)} (EVALSHA ${fmt(evalsha, 2)}) → ${ok ? 'met' : 'NOT met'}`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------- main
async function main(): Promise<void> {
  if (TASKSET) spawnSync('taskset', ['-pc', String(S.loadCpu), String(process.pid)], { stdio: 'ignore' }); // keep this driver off the server CPU
  if (CONFIGS.includes('peer')) preparePeer();
  const peerVersions = CONFIGS.includes('peer')
    ? `  peer: oidc-provider ${pkgVersion('oidc-provider', PEER_DIR)} (ioredis ${pkgVersion('ioredis', PEER_DIR)}, koa ${pkgVersion('koa', PEER_DIR)})`
    : '';
  const header = [
    `devicegate benchmark: POST /oauth/token, grant_type=${DEVICE_CODE_GRANT}, ${S.codes} distinct pending device codes cycling`,
    `date ${new Date().toISOString()}  cpu ${cpus()[0]?.model.trim() ?? '?'} x ${cpus().length}  loadavg ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
    `node ${process.version}  ${versionOf('wrk', ['-v']).replace(/ Copyright.*/, '')}  ${has('redis-server') ? versionOf('redis-server', ['--version']).split(' sha=')[0] : 'no redis'}  koa ${pkgVersion('koa')}  ioredis ${pkgVersion('ioredis')}${peerVersions}`,
    `load: wrk -t${S.threads} -c${S.conns} -d${S.duration}s after ${S.warmup}s warm-up (bench/lua/poll.lua); runs ${S.runs}; pending pool ${S.pool === 'auto' ? `rate × ${INTERVAL_S} s × ${S.poolFactor}` : S.pool}; ` +
      (TASKSET ? `server on CPU ${S.serverCpu}, wrk + redis on CPU ${S.loadCpu}` : 'UNPINNED'),
  ].join('\n');
  console.log(header);
  // per window: quiet check + warm-up + window; seeding ~5k codes/s (devicegate), ~1.3k/s (the peer's fetch client)
  const window = S.warmup + S.duration + 2;
  const perConfig = {
    memory: 2 * window + S.codes / 4000 + 15, redis: 2 * window + S.codes / 4000 + 18, peer: window + S.codes / 1300 + 5,
    ceiling: window + 3, 'ceiling-http': window + 3,
  };
  const estimate = S.runs * CONFIGS.reduce((a, c) => a + perConfig[c], 0) + 3;
  console.log(`raw outputs: ${shown(OUT)}   (about ${Math.ceil(estimate / 5) * 5}s to go)\n`);

  let redis: Proc | undefined;
  if (CONFIGS.some((c) => c !== 'memory')) {
    redis = await startRedis();
    console.log(`private redis-server pid ${redis.pid} on ${HOST}:${privateRedisPort()} (--save '' --appendonly no)\n`);
  }
  const runs: ConfigResult[] = [];
  try {
    for (let run = 1; run <= S.runs; run++) {
      const dir = join(OUT, `run-${run}`);
      mkdirSync(dir, { recursive: true });
      console.log(`== run ${run}/${S.runs}`);
      const merged: ConfigResult = { rows: {}, counts: [] };
      for (const cfg of CONFIGS) {
        console.log(`  ${LABEL[cfg]}`);
        const r =
          cfg === 'peer' ? await runPeer(run, dir)
          : cfg === 'ceiling' || cfg === 'ceiling-http' ? await runCeiling(cfg, run, dir)
          : await runDevicegate(cfg, run, dir);
        Object.assign(merged.rows, r.rows);
        merged.counts.push(...r.counts);
        await sleep(500);
      }
      runs.push(merged);
    }
  } finally {
    await stop(redis);
    agent.destroy();
  }
  writeFileSync(join(OUT, 'results.json'), JSON.stringify({ settings: S, runs }, null, 2));
  const text = report(runs, header);
  writeFileSync(join(OUT, 'summary.txt'), `${text}\n`);
  console.log(`\n== summary\n${text.slice(header.length + 1)}\n\nwritten: ${shown(join(OUT, 'summary.txt'))}, results.json`);
}

await main();
