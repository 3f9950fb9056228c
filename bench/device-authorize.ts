/**
 * Benchmark of POST /oauth/device/authorize (not a test: it prints figures).
 *
 *   npm run bench                                   # = tsx bench/device-authorize.ts
 *   DURATION=5s WARMUP=2s RUNS=1 npm run bench      # quick check
 *
 * In one run, against 127.0.0.1 only, with wrk (-t1 -c32 -d10s by default) after a warm-up:
 *   1. devicegate, in-memory store (no REDIS_URL)
 *   2. devicegate, Redis store (REDIS_URL = a private redis-server this script starts on a free port
 *      with --save '' --appendonly no, never the shared 6379 instance)
 *   3. ceiling: bench/ceiling.mjs, a bare Koa 3 handler doing exactly one Redis round trip (SET PX)
 * and prints req/s, p50, p99, non-200 count, the ratio of 1 and 2 to 3, and Redis traffic per
 * request (CONFIG RESETSTAT + MONITOR + N sequential requests + INFO commandstats): round trips
 * (top-level commands) and total commands (including those a Lua script runs).
 *
 * The server under test runs on SERVER_CPU (0); wrk and redis-server on LOAD_CPU (1). Only processes
 * started here are stopped, by pid. Raw outputs go to bench/results/<stamp>/ (git-ignored).
 * See bench/README.md for every knob. What it shares with bench/poll.ts is in bench/lib.ts.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import {
  BENCH_DIR, breakdown, commonSettings, countRedis, fail, fmt, freePort, has, HOST, init, LOADGEN, median, measure,
  perReq, pkgVersion, privateRedisPort, type Proc, rcli, type RedisCount, running, shown, sleep, start, startRedis, stop,
  TASKSET, versionOf, waitReady, type Window, benchServerEnv,
} from './lib.js';

const PATH = '/oauth/device/authorize';

// ---------------------------------------------------------------- settings (env)
const S = {
  ...commonSettings(),
  body: process.env.BODY || 'client_id=demo-cli&scope=openid',
  configs: (process.env.CONFIGS || 'memory,redis,ceiling').split(',').map((s) => s.trim()).filter(Boolean),
  loadgen: process.env.LOADGEN || 'wrk',
};
const CONFIG_NAMES = ['memory', 'redis', 'ceiling'] as const;
type ConfigName = (typeof CONFIG_NAMES)[number];
for (const c of S.configs) if (!(CONFIG_NAMES as readonly string[]).includes(c)) fail(`CONFIGS: unknown ${c} (use ${CONFIG_NAMES.join(',')})`);
const CONFIGS = CONFIG_NAMES.filter((c) => S.configs.includes(c));
const LABEL: Record<ConfigName, string> = {
  memory: '1. devicegate, in-memory store',
  redis: '2. devicegate, Redis store',
  ceiling: '3. ceiling: bare Koa + 1 Redis SET',
};

const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
const OUT = resolve(process.env.OUT || join(BENCH_DIR, 'results', stamp));
mkdirSync(OUT, { recursive: true });

// ---------------------------------------------------------------- tools, and the processes we start (bench/lib.ts)
init(S, OUT, {
  loadgen: S.loadgen,
  redis: CONFIGS.some((c) => c !== 'memory') ? 'apt-get install -y redis-server (or run CONFIGS=memory)' : undefined,
});
const LOAD = { script: 'form.lua', env: { BODY: S.body }, body: S.body };

async function post(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: S.body,
  });
  return { status: res.status, text: await res.text() };
}

/** One request must succeed with a device_code before any load: a benchmark of errors is meaningless. */
async function sanity(url: string, name: string): Promise<string> {
  const { status, text } = await post(url);
  let ok = false;
  try {
    ok = status === 200 && typeof (JSON.parse(text) as { device_code?: unknown }).device_code === 'string';
  } catch {
    /* not JSON */
  }
  if (!ok) fail(`${name}: POST ${url} with "${S.body}" answered ${status} ${text.slice(0, 300)} (expected 200 JSON with device_code)`);
  return text;
}

/** Redis traffic of COUNT_REQUESTS sequential device authorizations (bench/lib.ts countRedis). */
async function countRequests(url: string, name: string, dir: string): Promise<RedisCount> {
  return countRedis(name, dir, S.countRequests, async () => {
    let non200 = 0;
    for (let i = 0; i < S.countRequests; i++) if ((await post(url)).status !== 200) non200++;
    return non200;
  });
}

// ---------------------------------------------------------------- one configuration
interface ConfigResult {
  window: Window;
  redis?: RedisCount;
}

async function runConfig(cfg: ConfigName, run: number, dir: string): Promise<ConfigResult> {
  const port = await freePort();
  const base = `http://${HOST}:${port}`;
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), HOST, LOG_LEVEL: 'warn', NODE_ENV: 'production' };
  if (cfg !== 'ceiling') Object.assign(env, benchServerEnv(dir));
  delete env.REDIS_URL;
  if (cfg !== 'memory') {
    env.REDIS_URL = `redis://${HOST}:${privateRedisPort()}/0`;
    rcli('flushall');
  }
  const proc =
    cfg === 'ceiling'
      ? start(`run${run}-ceiling`, S.serverCpu, process.execPath, [join(BENCH_DIR, 'ceiling.mjs')], env)
      : start(`run${run}-devicegate-${cfg}`, S.serverCpu, process.execPath, ['--import', 'tsx', 'src/main.ts'], env);
  try {
    await waitReady(`${base}/healthz`, proc);
    const sample = await sanity(base + PATH, LABEL[cfg]);
    if (run === 1) writeFileSync(join(dir, `${cfg}-sample.json`), sample);
    const pids = [proc.pid, ...[...running].filter((p) => p.name === 'redis').map((p) => p.pid)];
    const window = await measure(cfg, base + PATH, LOAD, pids, proc.pid, dir);
    const redis = cfg === 'memory' ? undefined : await countRequests(base + PATH, `${cfg}`, dir);
    return { window, ...(redis ? { redis } : {}) };
  } finally {
    await stop(proc);
  }
}

// ---------------------------------------------------------------- report

function report(results: Partial<Record<ConfigName, ConfigResult[]>>, header: string): string {
  const lines: string[] = [header, ''];
  const med = (cfg: ConfigName, k: keyof Window) => median((results[cfg] ?? []).map((r) => Number(r.window[k])));
  const ceiling = med('ceiling', 'rps');
  const cols = ['configuration', 'req/s', 'p50 ms', 'p99 ms', 'non-200', 'sock err', 'vs ceiling', 'RSS MB', 'CPU srv/load/other %'];
  const w = [36, 9, 7, 7, 8, 8, 10, 7, 20];
  const row = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  lines.push(row(cols), row(w.map((n) => '-'.repeat(n))));
  for (const cfg of CONFIGS) {
    const rs = results[cfg] ?? [];
    if (!rs.length) continue;
    const rps = med(cfg, 'rps');
    const noisy = rs.some((r) => r.window.other_pct > S.noiseMax);
    const non200 = rs.reduce((a, r) => a + r.window.non200, 0);
    const sock = rs.reduce((a, r) => a + r.window.socket_errors, 0);
    lines.push(
      row([
        `${LABEL[cfg]}${noisy ? ' *' : ''}`, fmt(rps), fmt(med(cfg, 'p50_ms'), 2), fmt(med(cfg, 'p99_ms'), 2), String(non200), String(sock),
        Number.isFinite(ceiling) ? `${fmt((100 * rps) / ceiling, 1)}%` : '–', fmt(med(cfg, 'rss_mb')),
        `${fmt(med(cfg, 'server_cpu_pct'))}/${fmt(med(cfg, 'load_cpu_pct'))}/${fmt(med(cfg, 'other_pct'))}`,
      ]),
    );
  }
  if (S.runs > 1) {
    lines.push('', `medians of ${S.runs} runs; req/s per run:`);
    for (const cfg of CONFIGS) {
      lines.push(`  ${LABEL[cfg].padEnd(36)} ${(results[cfg] ?? []).map((r) => fmt(r.window.rps)).join(' / ')}`);
    }
  }
  const noisyCfgs = CONFIGS.filter((c) => (results[c] ?? []).some((r) => r.window.other_pct > S.noiseMax));
  if (noisyCfgs.length) {
    lines.push(
      '',
      `* WARNING: other processes (not started here) used more than NOISE_MAX=${S.noiseMax}% of a CPU during a measured window of ` +
        `${noisyCfgs.join(', ')} even after ${S.retries} retr${S.retries === 1 ? 'y' : 'ies'}: those req/s and ratios are not reliable. Run again on a quiet machine.`,
    );
  }
  const total = CONFIGS.flatMap((c) => results[c] ?? []).reduce((a, r) => a + r.window.requests, 0);
  const bad = CONFIGS.flatMap((c) => results[c] ?? []).reduce((a, r) => a + r.window.non200 + r.window.socket_errors, 0);
  lines.push(
    '',
    bad === 0
      ? `responses: all ${total} measured responses were HTTP 200 (no socket errors)`
      : `WARNING: ${bad} of ${total} measured responses were not HTTP 200 or hit socket errors — see the raw wrk outputs; figures are suspect`,
  );
  const warmBad = CONFIGS.flatMap((c) => results[c] ?? []).reduce((a, r) => a + r.window.warmup_non200, 0);
  if (warmBad) lines.push(`WARNING: ${warmBad} non-200/socket errors during warm-ups`);

  for (const cfg of ['redis', 'ceiling'] as const) {
    const c = results[cfg]?.[0]?.redis;
    if (!c) continue;
    const same = (results[cfg] ?? []).every((r) => JSON.stringify(r.redis) === JSON.stringify(c));
    lines.push(
      '',
      `Redis per request — ${LABEL[cfg]} (CONFIG RESETSTAT, ${c.requests} sequential requests${c.non200 ? `, ${c.non200} non-200!` : ''}, run 1${S.runs > 1 ? (same ? '; identical in every run' : '; DIFFERS between runs, see results.json') : ''}):`,
      `  round trips (top-level commands, MONITOR): ${fmt(perReq(c.round_trips), 2)}   ${breakdown(c.round_trips)}`,
      `  commands run inside Lua scripts:           ${fmt(perReq(c.in_scripts), 2)}   ${breakdown(c.in_scripts)}`,
      `  total commands (INFO commandstats):        ${fmt(perReq(c.commandstats), 2)}   ${breakdown(c.commandstats)}`,
    );
  }

  const redisRps = med('redis', 'rps');
  const rt = results.redis?.[0]?.redis;
  if (Number.isFinite(redisRps) && Number.isFinite(ceiling) || rt) lines.push('', 'targets (issue):');
  if (Number.isFinite(redisRps) && Number.isFinite(ceiling)) {
    const pct = (100 * redisRps) / ceiling;
    const unsure = noisyCfgs.includes('redis') || noisyCfgs.includes('ceiling');
    lines.push(
      `  devicegate on Redis ≥ 60% of the ceiling: ${fmt(pct, 1)}% → ${pct >= 60 ? 'met' : 'NOT met'}${unsure ? ' (INCONCLUSIVE: noisy windows)' : ''}`,
    );
  }
  if (rt) {
    const trips = perReq(rt.round_trips);
    lines.push(`  one Redis round trip per request:        ${fmt(trips, 2)} → ${Math.abs(trips - 1) < 0.005 ? 'met' : 'NOT met'}`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------- main
async function main(): Promise<void> {
  if (TASKSET) spawnSync('taskset', ['-pc', String(S.loadCpu), String(process.pid)], { stdio: 'ignore' }); // keep this driver off the server CPU
  const loadgenVersion = LOADGEN === 'wrk' ? versionOf('wrk', ['-v']).replace(/ Copyright.*/, '') : `autocannon ${pkgVersion('autocannon')}`;
  const perConfig = S.warmup + S.duration + 6; // + start-up, quiet check, sanity check, Redis counting
  const estimate = S.runs * CONFIGS.length * perConfig + 3;
  const header = [
    `devicegate benchmark: POST ${PATH}  body "${S.body}"`,
    `date ${new Date().toISOString()}  cpu ${cpus()[0]?.model.trim() ?? '?'} x ${cpus().length}  loadavg ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
    `node ${process.version}  ${loadgenVersion}  ${has('redis-server') ? versionOf('redis-server', ['--version']).split(' sha=')[0] : 'no redis'}  koa ${pkgVersion('koa')}  ioredis ${pkgVersion('ioredis')}`,
    `load: ${LOADGEN} -t${S.threads} -c${S.conns} -d${S.duration}s after ${S.warmup}s warm-up; runs ${S.runs}; ` +
      (TASKSET ? `server on CPU ${S.serverCpu}, load generator + redis on CPU ${S.loadCpu}` : 'UNPINNED'),
  ].join('\n');
  console.log(header);
  console.log(`raw outputs: ${shown(OUT)}   (about ${Math.ceil(estimate / 5) * 5}s to go)\n`);

  let redis: Proc | undefined;
  if (CONFIGS.some((c) => c !== 'memory')) {
    redis = await startRedis();
    console.log(`private redis-server pid ${redis.pid} on ${HOST}:${privateRedisPort()} (--save '' --appendonly no)\n`);
  }
  const results: Partial<Record<ConfigName, ConfigResult[]>> = {};
  try {
    for (let run = 1; run <= S.runs; run++) {
      const dir = join(OUT, `run-${run}`);
      mkdirSync(dir, { recursive: true });
      console.log(`== run ${run}/${S.runs}`);
      for (const cfg of CONFIGS) {
        console.log(`  ${LABEL[cfg]}`);
        const r = await runConfig(cfg, run, dir);
        (results[cfg] ??= []).push(r);
        const x = r.window;
        console.log(
          `    ${fmt(x.rps)} req/s  p50 ${fmt(x.p50_ms, 2)} ms  p99 ${fmt(x.p99_ms, 2)} ms  non-200 ${x.non200}  ` +
            `CPU server ${fmt(x.server_cpu_pct)}% load ${fmt(x.load_cpu_pct)}% other ${fmt(x.other_pct)}%`,
        );
        await sleep(500);
      }
    }
  } finally {
    await stop(redis);
  }
  writeFileSync(join(OUT, 'results.json'), JSON.stringify({ settings: { ...S, loadgen: LOADGEN }, results }, null, 2));
  const text = report(results, header);
  writeFileSync(join(OUT, 'summary.txt'), `${text}\n`);
  console.log(`\n== summary\n${text.slice(header.length + 1)}\n\nwritten: ${shown(join(OUT, 'summary.txt'))}, results.json`);
}

await main();
