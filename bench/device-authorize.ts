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
 * See bench/README.md for every knob.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(BENCH_DIR, '..');
const HOST = '127.0.0.1'; // never anything else
const PATH = '/oauth/device/authorize';

// ---------------------------------------------------------------- settings (env)
function envInt(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) fail(`${name} must be an integer in [${min}, ${max}], got ${raw}`);
  return n;
}
/** "10s", "10", "1m" → whole seconds (wrk wants whole seconds). */
function envSeconds(name: string, fallback: string): number {
  const raw = process.env[name] || fallback;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(raw.trim());
  if (!m) fail(`${name} must look like 10s, 10 or 1m, got ${raw}`);
  const value = Number(m[1]) * (m[2] === 'm' ? 60 : m[2] === 'ms' ? 0.001 : 1);
  return Math.max(1, Math.round(value));
}

const S = {
  duration: envSeconds('DURATION', '10s'),
  warmup: envSeconds('WARMUP', '3s'),
  conns: envInt('CONNS', 32, 1, 10_000),
  threads: envInt('THREADS', 1, 1, 64),
  runs: envInt('RUNS', 1, 1, 20),
  countRequests: envInt('COUNT_REQUESTS', 200, 1, 100_000),
  serverCpu: envInt('SERVER_CPU', 0, 0, 4096),
  loadCpu: envInt('LOAD_CPU', 1, 0, 4096),
  noiseMax: envInt('NOISE_MAX', 15, 0, 1000), // % of one CPU used by processes not started here
  retries: envInt('RETRIES', 1, 0, 5),
  quietWait: envInt('QUIET_WAIT', 10, 0, 600), // s to wait for other processes to calm down before a window
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

// ---------------------------------------------------------------- small helpers
function fail(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(1);
}
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const has = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
const median = (xs: number[]) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '–');
/** A path relative to the repository when inside it. */
const shown = (p: string) => (p.startsWith(`${ROOT}/`) ? relative(ROOT, p) : p);
const versionOf = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n')[0]!.trim();
};
const pkgVersion = (name: string) => {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
};

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, HOST, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? res(port) : rej(new Error('no free port'))));
    });
  });
}

// ---------------------------------------------------------------- tools
const TASKSET = has('taskset');
if (!TASKSET) console.warn('bench: taskset not found (util-linux): processes will NOT be pinned; figures are noisier.');
const pinned = (cpu: number, cmd: string, args: string[]): [string, string[]] =>
  TASKSET ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args];

for (const bin of ['redis-server', 'redis-cli']) {
  if (!has(bin) && CONFIGS.some((c) => c !== 'memory')) {
    fail(`${bin} not found: apt-get install -y redis-server (or run CONFIGS=memory)`);
  }
}

let LOADGEN: 'wrk' | 'autocannon' = S.loadgen === 'autocannon' ? 'autocannon' : 'wrk';
const AUTOCANNON = join(ROOT, 'node_modules', 'autocannon', 'autocannon.js');
if (LOADGEN === 'wrk' && !has('wrk')) {
  console.log('bench: wrk not found; trying apt-get install -y wrk');
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (root && has('apt-get')) {
    if (spawnSync('apt-get', ['install', '-y', 'wrk'], { stdio: 'inherit' }).status !== 0) {
      spawnSync('apt-get', ['update'], { stdio: 'inherit' });
      spawnSync('apt-get', ['install', '-y', 'wrk'], { stdio: 'inherit' });
    }
  } else {
    console.log('bench: not root or no apt-get; cannot install wrk');
  }
  if (!has('wrk')) {
    if (!existsSync(AUTOCANNON)) fail('wrk is missing and could not be installed, and node_modules/autocannon is absent (npm ci)');
    console.log(
      'bench: FALLING BACK to autocannon (devDependency, one Node thread). Its figures are NOT comparable with wrk runs\n' +
        '       (a slower client on the load CPU, different latency histogram). Install wrk for real numbers.',
    );
    LOADGEN = 'autocannon';
  }
}

// ---------------------------------------------------------------- processes we start (and only those)
interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  log: string;
  exited: Promise<void>;
}
const running = new Set<Proc>();

function start(name: string, cpu: number, cmd: string, args: string[], env: NodeJS.ProcessEnv, log = join(OUT, `${name}.log`)): Proc {
  const fd = openSync(log, 'a');
  const [c, a] = pinned(cpu, cmd, args);
  const child = spawn(c, a, { cwd: ROOT, env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  if (child.pid === undefined) fail(`could not start ${name} (${cmd})`);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const proc: Proc = { name, child, pid: child.pid, log, exited };
  running.add(proc);
  void exited.then(() => running.delete(proc));
  return proc;
}

async function stop(proc: Proc | undefined): Promise<void> {
  if (!proc || !running.has(proc)) return;
  try {
    process.kill(proc.pid, 'SIGTERM');
  } catch {
    /* already gone */
  }
  const timer = setTimeout(() => {
    try {
      process.kill(proc.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, 5_000);
  await proc.exited;
  clearTimeout(timer);
}

function killAllSync(): void {
  for (const p of running) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}
process.on('exit', killAllSync);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    console.error(`\nbench: ${sig}; stopping the processes it started`);
    killAllSync();
    process.exit(130);
  });
}

const logTail = (p: Proc, lines = 25) => {
  try {
    return readFileSync(p.log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
};

async function waitReady(url: string, proc: Proc, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void proc.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) fail(`${proc.name} exited during start-up; ${shown(proc.log)}:\n${logTail(proc)}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      /* not yet */
    }
    await sleep(100);
  }
  fail(`${proc.name} not ready at ${url} after ${timeoutMs} ms; ${shown(proc.log)}:\n${logTail(proc)}`);
}

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

// ---------------------------------------------------------------- CPU accounting (/proc)
function cpuTicks(cpu: number): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${cpu} `));
  if (!line) return { busy: NaN, total: NaN };
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number); // user nice system idle iowait irq softirq steal
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3]! - f[4]!, total };
}
function allBusyTicks(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return f[0]! + f[1]! + f[2]! + f[5]! + f[6]!; // user nice system irq softirq (what processes are charged)
}
function procTicks(pid: number, withChildren = false): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ').map(Number); // f[0] is field 3 (state)
    return f[11]! + f[12]! + (withChildren ? f[13]! + f[14]! : 0); // utime stime [cutime cstime]
  } catch {
    return 0;
  }
}
function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

interface CpuWindow {
  server_cpu_pct: number;
  load_cpu_pct: number;
  other_pct: number;
}
/** Busy % of the server CPU and the load CPU, and CPU used by processes NOT started here (% of one CPU). */
function cpuWindow(pids: number[]): () => CpuWindow {
  // wrk is our child: once reaped its ticks are in our cutime/cstime.
  const own = () => pids.reduce((t, p) => t + procTicks(p), procTicks(process.pid, true));
  const s0 = cpuTicks(S.serverCpu), l0 = cpuTicks(S.loadCpu), a0 = allBusyTicks(), o0 = own();
  return () => {
    const s1 = cpuTicks(S.serverCpu), l1 = cpuTicks(S.loadCpu), a1 = allBusyTicks(), o1 = own();
    const oneCpu = s1.total - s0.total;
    return {
      server_cpu_pct: (100 * (s1.busy - s0.busy)) / oneCpu,
      load_cpu_pct: (100 * (l1.busy - l0.busy)) / (l1.total - l0.total),
      other_pct: Math.max(0, (100 * (a1 - a0 - (o1 - o0))) / oneCpu),
    };
  };
}

// ---------------------------------------------------------------- load generation
interface Load {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  requests: number;
  non200: number;
  statuses: Record<string, number>;
  errors: Record<string, number>;
  socket_errors: number;
}

function runChild(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', rej);
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code === 0) res(out);
      else rej(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${out}`));
    });
  });
}

async function load(url: string, seconds: number, file: string): Promise<Load> {
  if (LOADGEN === 'wrk') {
    const [c, a] = pinned(S.loadCpu, 'wrk', [
      `-t${S.threads}`, `-c${S.conns}`, `-d${seconds}s`, '--latency', '-s', join(BENCH_DIR, 'lua', 'form.lua'), url,
    ]);
    const out = await runChild(c, a, { ...process.env, BODY: S.body }, (seconds + 30) * 1000);
    writeFileSync(file, out);
    const line = out.split('\n').find((l) => l.startsWith('RESULT '));
    if (!line) fail(`wrk printed no RESULT line (see ${file})`);
    const r = JSON.parse(line.slice(7)) as Omit<Load, 'socket_errors'> & { socket: Record<string, number> };
    const sock = r.socket;
    return {
      rps: r.rps, p50_ms: r.p50_ms, p99_ms: r.p99_ms, requests: r.requests, non200: r.non200,
      statuses: r.statuses, errors: r.errors,
      socket_errors: (sock.connect ?? 0) + (sock.read ?? 0) + (sock.write ?? 0) + (sock.timeout ?? 0),
    };
  }
  const [c, a] = pinned(S.loadCpu, process.execPath, [
    AUTOCANNON, '-c', String(S.conns), '-d', String(seconds), '-m', 'POST',
    '-H', 'Content-Type=application/x-www-form-urlencoded', '-b', S.body, '-j', '-n', url,
  ]);
  const out = await runChild(c, a, process.env, (seconds + 30) * 1000);
  writeFileSync(file, out);
  const j = JSON.parse(out.slice(out.indexOf('{'))) as {
    requests: { total: number }; duration: number; latency: { p50: number; p99: number };
    non2xx: number; errors: number; timeouts: number; '2xx': number;
  };
  return {
    rps: j.requests.total / j.duration, p50_ms: j.latency.p50, p99_ms: j.latency.p99, requests: j.requests.total,
    non200: j.non2xx, statuses: { '2xx': j['2xx'], non2xx: j.non2xx }, errors: {}, socket_errors: j.errors + j.timeouts,
  };
}

interface Window extends Load, CpuWindow {
  attempts: number;
  rss_mb: number;
  warmup_non200: number;
}

/**
 * Before a warm-up (our servers idle): wait up to QUIET_WAIT s, in 1 s samples, until processes not
 * started here use at most NOISE_MAX % of a CPU. Returns what the last sample saw.
 */
async function waitQuiet(pids: number[]): Promise<number> {
  const deadline = Date.now() + S.quietWait * 1000;
  let other = 0;
  let said = false;
  do {
    const end = cpuWindow(pids);
    await sleep(1_000);
    other = end().other_pct;
    if (other <= S.noiseMax) return other;
    if (!said && S.quietWait > 0) console.log(`    machine busy (others ${fmt(other)}% of a CPU); waiting up to ${S.quietWait}s`);
    said = true;
  } while (Date.now() < deadline);
  return other;
}

/** Warm-up, then the measured window; a window disturbed by other processes is redone (RETRIES). */
async function measure(name: string, url: string, pids: number[], serverPid: number, dir: string): Promise<Window> {
  await waitQuiet(pids);
  let warm = await load(url, S.warmup, join(dir, `${name}-warmup.txt`));
  let attempt = 0;
  for (;;) {
    attempt++;
    if (attempt > 1 && S.quietWait > 0) {
      await waitQuiet(pids);
      warm = await load(url, Math.min(S.warmup, 2), join(dir, `${name}-warmup-try${attempt}.txt`));
    }
    const end = cpuWindow(pids);
    const r = await load(url, S.duration, join(dir, `${name}-wrk${attempt > 1 ? `-try${attempt}` : ''}.txt`));
    const cpu = end();
    const w: Window = { ...r, ...cpu, attempts: attempt, rss_mb: rssMb(serverPid), warmup_non200: warm.non200 + warm.socket_errors };
    if (cpu.other_pct <= S.noiseMax || attempt > S.retries) {
      if (cpu.other_pct > S.noiseMax) console.log(`    note: other processes used ${fmt(cpu.other_pct)}% of a CPU during this window`);
      return w;
    }
    console.log(`    other processes used ${fmt(cpu.other_pct)}% of a CPU (> NOISE_MAX ${S.noiseMax}); measuring again`);
  }
}

// ---------------------------------------------------------------- Redis
let redisPort = 0;
const rcli = (...args: string[]) => {
  const r = spawnSync('redis-cli', ['-h', HOST, '-p', String(redisPort), ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`redis-cli ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

async function startRedis(): Promise<Proc> {
  redisPort = await freePort();
  if (redisPort === 6379) fail('refusing to use port 6379 (the shared Redis)');
  const proc = start('redis', S.loadCpu, 'redis-server', [
    '--port', String(redisPort), '--bind', HOST, '--save', '', '--appendonly', 'no',
    '--dir', OUT, '--daemonize', 'no', '--logfile', join(OUT, 'redis-server.log'),
  ], process.env);
  for (let i = 0; i < 100; i++) {
    try {
      if (rcli('ping').trim() === 'PONG') break;
    } catch {
      /* not yet */
    }
    await sleep(100);
  }
  if (rcli('ping').trim() !== 'PONG') fail(`private redis-server did not start:\n${logTail(proc)}`);
  const conf = rcli('config', 'get', 'save').split('\n')[1] ?? '?';
  const aof = rcli('config', 'get', 'appendonly').split('\n')[1] ?? '?';
  if (conf.trim() !== '' || aof.trim() !== 'no') fail(`private redis has save="${conf}" appendonly=${aof}`);
  return proc;
}

interface RedisCount {
  requests: number;
  non200: number;
  /** commands sent by the server (MONITOR lines not from a script), per request */
  round_trips: Record<string, number>;
  /** commands run inside Lua scripts (MONITOR "[db lua]" lines), per request */
  in_scripts: Record<string, number>;
  /** INFO commandstats calls after CONFIG RESETSTAT (counts in-script calls too), per request */
  commandstats: Record<string, number>;
}

/** CONFIG RESETSTAT, MONITOR on, N sequential requests, MONITOR off, INFO commandstats. */
async function countRedis(url: string, name: string, dir: string): Promise<RedisCount> {
  const n = S.countRequests;
  rcli('config', 'resetstat');
  const monFile = join(dir, `${name}-monitor.txt`);
  const mon = start(`${name}-monitor`, S.loadCpu, 'redis-cli', ['-h', HOST, '-p', String(redisPort), 'monitor'], process.env, monFile);
  const monitorReady = () => existsSync(monFile) && readFileSync(monFile, 'utf8').startsWith('OK');
  for (let i = 0; i < 100 && !monitorReady(); i++) await sleep(50);
  if (!monitorReady()) fail(`redis-cli monitor did not start (${monFile})`);
  let non200 = 0;
  for (let i = 0; i < n; i++) if ((await post(url)).status !== 200) non200++;
  await sleep(300); // let MONITOR flush
  await stop(mon);
  const stats = rcli('info', 'commandstats');
  writeFileSync(join(dir, `${name}-commandstats.txt`), stats);
  const lines = readFileSync(monFile, 'utf8').split('\n');
  const top: Record<string, number> = {};
  const inner: Record<string, number> = {};
  for (const line of lines) {
    const m = /^\d+\.\d+ \[\d+ ([^\]]+)\] "([^"]+)"/.exec(line);
    if (!m) continue;
    const bucket = m[1] === 'lua' ? inner : top;
    const cmd = m[2]!.toLowerCase();
    bucket[cmd] = (bucket[cmd] ?? 0) + 1;
  }
  const cs: Record<string, number> = {};
  for (const line of stats.split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    // the bench's own: CONFIG RESETSTAT came before, MONITOR and INFO are ours
    if (m && !['monitor', 'info', 'config|resetstat'].includes(m[1]!)) cs[m[1]!] = Number(m[2]);
  }
  const per = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v / n]));
  return { requests: n, non200, round_trips: per(top), in_scripts: per(inner), commandstats: per(cs) };
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
  delete env.REDIS_URL;
  if (cfg !== 'memory') {
    env.REDIS_URL = `redis://${HOST}:${redisPort}/0`;
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
    const window = await measure(cfg, base + PATH, pids, proc.pid, dir);
    const redis = cfg === 'memory' ? undefined : await countRedis(base + PATH, `${cfg}`, dir);
    return { window, ...(redis ? { redis } : {}) };
  } finally {
    await stop(proc);
  }
}

// ---------------------------------------------------------------- report
const perReq = (o: Record<string, number> = {}) => Object.values(o).reduce((a, b) => a + b, 0);
const breakdown = (o: Record<string, number> = {}) =>
  Object.entries(o)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k.toUpperCase()} ${fmt(v, 2)}`)
    .join(', ') || 'none';

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
    console.log(`private redis-server pid ${redis.pid} on ${HOST}:${redisPort} (--save '' --appendonly no)\n`);
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
