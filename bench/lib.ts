/**
 * What the benchmarks in bench/ share (device-authorize.ts, poll.ts): settings from the environment,
 * the processes they start (and only those, stopped by pid), CPU pinning, CPU accounting from /proc,
 * wrk (or the autocannon fallback) with a warm-up and noise detection, a private redis-server and the
 * Redis command count (MONITOR + INFO commandstats). Not a test; see bench/README.md.
 *
 * Call init() once, after reading the settings and creating the output directory, before anything else.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(BENCH_DIR, '..');
export const HOST = '127.0.0.1'; // never anything else

// ---------------------------------------------------------------- settings (env)
export function envInt(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) fail(`${name} must be an integer in [${min}, ${max}], got ${raw}`);
  return n;
}
/** "10s", "10", "1m" → whole seconds (wrk wants whole seconds). */
export function envSeconds(name: string, fallback: string): number {
  const raw = process.env[name] || fallback;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(raw.trim());
  if (!m) fail(`${name} must look like 10s, 10 or 1m, got ${raw}`);
  const value = Number(m[1]) * (m[2] === 'm' ? 60 : m[2] === 'ms' ? 0.001 : 1);
  return Math.max(1, Math.round(value));
}

/** The knobs every benchmark here has (bench/README.md). */
export interface CommonSettings {
  duration: number;
  warmup: number;
  conns: number;
  threads: number;
  runs: number;
  countRequests: number;
  serverCpu: number;
  loadCpu: number;
  noiseMax: number;
  retries: number;
  quietWait: number;
}
export function commonSettings(): CommonSettings {
  return {
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
  };
}

// ---------------------------------------------------------------- small helpers
export function fail(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(1);
}
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
export const has = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
export const median = (xs: number[]) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
export const fmt = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '–');
/** A path relative to the repository when inside it. */
export const shown = (p: string) => (p.startsWith(`${ROOT}/`) ? relative(ROOT, p) : p);
export const versionOf = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n')[0]!.trim();
};
/** Version of an installed package (of devicegate's node_modules unless another root is given). */
export const pkgVersion = (name: string, root = ROOT) => {
  try {
    return (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
};

export function freePort(): Promise<number> {
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

// ---------------------------------------------------------------- init: settings, output, tools
let S: CommonSettings;
let OUT: string;
export let TASKSET = false;
export let LOADGEN: 'wrk' | 'autocannon' = 'wrk';
const AUTOCANNON = join(ROOT, 'node_modules', 'autocannon', 'autocannon.js');

/**
 * Checks the tools (installs wrk with apt-get when root, else falls back to autocannon), and arranges
 * for the processes started here to be killed when this one exits or is interrupted.
 * `redis`: the hint printed when redis-server/redis-cli are missing, or undefined when Redis is not needed.
 */
export function init(settings: CommonSettings, out: string, options: { loadgen: string; redis?: string | undefined }): void {
  S = settings;
  OUT = out;
  TASKSET = has('taskset');
  if (!TASKSET) console.warn('bench: taskset not found (util-linux): processes will NOT be pinned; figures are noisier.');
  for (const bin of ['redis-server', 'redis-cli']) {
    if (!has(bin) && options.redis !== undefined) fail(`${bin} not found: ${options.redis}`);
  }
  LOADGEN = options.loadgen === 'autocannon' ? 'autocannon' : 'wrk';
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
  process.on('exit', killAllSync);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      console.error(`\nbench: ${sig}; stopping the processes it started`);
      killAllSync();
      process.exit(130);
    });
  }
}

export const pinned = (cpu: number, cmd: string, args: string[]): [string, string[]] =>
  TASKSET ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args];

// ---------------------------------------------------------------- processes we start (and only those)
export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  log: string;
  exited: Promise<void>;
}
export const running = new Set<Proc>();

export function start(
  name: string,
  cpu: number,
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  log = join(OUT, `${name}.log`),
  cwd = ROOT,
): Proc {
  const fd = openSync(log, 'a');
  const [c, a] = pinned(cpu, cmd, args);
  const child = spawn(c, a, { cwd, env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  if (child.pid === undefined) fail(`could not start ${name} (${cmd})`);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const proc: Proc = { name, child, pid: child.pid, log, exited };
  running.add(proc);
  void exited.then(() => running.delete(proc));
  return proc;
}

export async function stop(proc: Proc | undefined): Promise<void> {
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

export const logTail = (p: Proc, lines = 25) => {
  try {
    return readFileSync(p.log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
};

export async function waitReady(url: string, proc: Proc, timeoutMs = 30_000): Promise<void> {
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
export function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

export interface CpuWindow {
  server_cpu_pct: number;
  load_cpu_pct: number;
  other_pct: number;
}
/** Busy % of the server CPU and the load CPU, and CPU used by processes NOT started here (% of one CPU). */
export function cpuWindow(pids: number[]): () => CpuWindow {
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

/**
 * The VM's own speed, which /proc does not show (no steal time here): a fixed pure-CPU loop pinned to
 * `cpu`, timed 7 times in a fresh process; the median of the last 5 (JIT-compiled) rounds, in ms. Slower
 * when the host gives this vCPU less (a busy hyperthread sibling, time slicing); ~18 ms on a quiet
 * 2026-11 EPYC VM. Run it while the servers idle.
 */
export function cpuProbe(cpu: number): number {
  const code =
    'const t=[];for(let r=0;r<7;r++){const s=process.hrtime.bigint();let x=1;for(let i=0;i<1e7;i++){x^=x<<13;x^=x>>>17;x^=x<<5;}' +
    'globalThis.sink=x;t.push(Number(process.hrtime.bigint()-s)/1e6);}const l=t.slice(2).sort((a,b)=>a-b);console.log(l[2])';
  const [c, a] = pinned(cpu, process.execPath, ['-e', code]);
  const r = spawnSync(c, a, { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout.trim()) : NaN;
}

// ---------------------------------------------------------------- load generation
export interface Load {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  requests: number;
  non200: number;
  statuses: Record<string, number>;
  errors: Record<string, number>;
  socket_errors: number;
}

/**
 * What wrk sends: a script from bench/lua/ and its environment. `body` (a fixed form body) is what the
 * autocannon fallback sends; without it there is no fallback (the script picks each request's body).
 */
export interface LoadSpec {
  script: string;
  env: Record<string, string>;
  body?: string;
}

export function runChild(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
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

export async function load(url: string, seconds: number, file: string, spec: LoadSpec): Promise<Load> {
  if (LOADGEN === 'wrk') {
    const [c, a] = pinned(S.loadCpu, 'wrk', [
      `-t${S.threads}`, `-c${S.conns}`, `-d${seconds}s`, '--latency', '-s', join(BENCH_DIR, 'lua', spec.script), url,
    ]);
    const out = await runChild(c, a, { ...process.env, ...spec.env }, (seconds + 30) * 1000);
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
  if (spec.body === undefined) fail(`${spec.script} needs wrk (autocannon cannot vary the body per request)`);
  const [c, a] = pinned(S.loadCpu, process.execPath, [
    AUTOCANNON, '-c', String(S.conns), '-d', String(seconds), '-m', 'POST',
    '-H', 'Content-Type=application/x-www-form-urlencoded', '-b', spec.body, '-j', '-n', url,
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

export interface Window extends Load, CpuWindow {
  attempts: number;
  rss_mb: number;
  warmup_non200: number;
}

/**
 * Before a warm-up (our servers idle): wait up to QUIET_WAIT s, in 1 s samples, until processes not
 * started here use at most NOISE_MAX % of a CPU. Returns what the last sample saw.
 */
export async function waitQuiet(pids: number[]): Promise<number> {
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

/**
 * Warm-up, then the measured window; a window disturbed by other processes is redone (RETRIES).
 * `bad` counts the responses of a warm-up that should not have happened (default: non-200 and socket errors).
 */
export async function measure(
  name: string,
  url: string,
  spec: LoadSpec,
  pids: number[],
  serverPid: number,
  dir: string,
  bad: (l: Load) => number = (l) => l.non200 + l.socket_errors,
): Promise<Window> {
  await waitQuiet(pids);
  let warm = await load(url, S.warmup, join(dir, `${name}-warmup.txt`), spec);
  let attempt = 0;
  for (;;) {
    attempt++;
    if (attempt > 1 && S.quietWait > 0) {
      await waitQuiet(pids);
      warm = await load(url, Math.min(S.warmup, 2), join(dir, `${name}-warmup-try${attempt}.txt`), spec);
    }
    const end = cpuWindow(pids);
    const r = await load(url, S.duration, join(dir, `${name}-wrk${attempt > 1 ? `-try${attempt}` : ''}.txt`), spec);
    const cpu = end();
    const w: Window = { ...r, ...cpu, attempts: attempt, rss_mb: rssMb(serverPid), warmup_non200: bad(warm) };
    if (cpu.other_pct <= S.noiseMax || attempt > S.retries) {
      if (cpu.other_pct > S.noiseMax) console.log(`    note: other processes used ${fmt(cpu.other_pct)}% of a CPU during this window`);
      return w;
    }
    console.log(`    other processes used ${fmt(cpu.other_pct)}% of a CPU (> NOISE_MAX ${S.noiseMax}); measuring again`);
  }
}

// ---------------------------------------------------------------- Redis
let redisPort = 0;
/** The port of the private redis-server (0 before startRedis). */
export const privateRedisPort = () => redisPort;
export const rcli = (...args: string[]) => {
  const r = spawnSync('redis-cli', ['-h', HOST, '-p', String(redisPort), ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`redis-cli ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

/** A private redis-server on a free port (never 6379), no persistence, pinned to the load CPU. */
export async function startRedis(): Promise<Proc> {
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

export interface RedisCount {
  requests: number;
  non200: number;
  /** commands sent by the server (MONITOR lines not from a script), per request */
  round_trips: Record<string, number>;
  /** commands run inside Lua scripts (MONITOR "[db lua]" lines), per request */
  in_scripts: Record<string, number>;
  /** INFO commandstats calls after CONFIG RESETSTAT (counts in-script calls too), per request */
  commandstats: Record<string, number>;
}

/**
 * CONFIG RESETSTAT, MONITOR on, `requests()` (n sequential requests; it returns how many of them went
 * wrong), MONITOR off, INFO commandstats.
 */
export async function countRedis(name: string, dir: string, n: number, requests: () => Promise<number>): Promise<RedisCount> {
  rcli('config', 'resetstat');
  const monFile = join(dir, `${name}-monitor.txt`);
  const mon = start(`${name}-monitor`, S.loadCpu, 'redis-cli', ['-h', HOST, '-p', String(redisPort), 'monitor'], process.env, monFile);
  const monitorReady = () => existsSync(monFile) && readFileSync(monFile, 'utf8').startsWith('OK');
  for (let i = 0; i < 100 && !monitorReady(); i++) await sleep(50);
  if (!monitorReady()) fail(`redis-cli monitor did not start (${monFile})`);
  const non200 = await requests();
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

// ---------------------------------------------------------------- report helpers
export const perReq = (o: Record<string, number> = {}) => Object.values(o).reduce((a, b) => a + b, 0);
export const breakdown = (o: Record<string, number> = {}) =>
  Object.entries(o)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k.toUpperCase()} ${fmt(v, 2)}`)
    .join(', ') || 'none';

// ---------------------------------------------------------------- devicegate under load
/**
 * What a devicegate server needs to be measured rather than throttled: the bundled config with the
 * flood limits (rate_limits, README "Floods") raised far above what one load generator on loopback
 * sends, and a DEVICEGATE_SECRET (required with REDIS_URL). Returns env entries to merge.
 */
export function benchServerEnv(dir: string): Record<string, string> {
  const example = JSON.parse(readFileSync(new URL('../config/devicegate.example.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  const unlimited = { per_ip: 1_000_000, per_client: 1_000_000, window: 1 };
  const file = join(dir, 'devicegate.bench.json');
  const { $schema: _schema, ...config } = example;
  writeFileSync(file, JSON.stringify({ ...config, rate_limits: { device_authorization: unlimited, failed_client_authentication: unlimited } }));
  return { DEVICEGATE_CONFIG: file, DEVICEGATE_SECRET: 'bench-only-secret-not-for-production-0123456789' };
}
