/**
 * `npm run bench:cli`: how long the `devicegate` command takes to start, against `node -e 0` measured
 * in the same run (this VM's speed swings by up to 2× within minutes, so only same-run ratios mean
 * anything). Three commands, interleaved run by run so a slow minute hits all of them alike:
 *
 *   node -e 0                       the floor: Node itself
 *   devicegate --help               parse and print usage
 *   devicegate token                a valid stored token (an hour left): read the file, print it; no network
 *
 * The `devicegate` measured is the package's own `bin` (package.json), run as `node <bin>`, which is what
 * `npm install -g devicegate` runs. DEVICEGATE_BIN=<file>[,<file>…] measures other entry points instead,
 * side by side in the same run (e.g. `bin/devicegate.mjs`, the repository's tsx launcher of the
 * sources, or another checkout's bin). Settings: RUNS (default 30), WARMUP (default 3).
 * Target (issue 9): `token` within 1.5× of `node -e 0`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TokenStore } from '../src/cli/token-store.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const RUNS = positiveInt('RUNS', 30);
const WARMUP = positiveInt('WARMUP', 3);
const TARGET_RATIO = 1.5;
const CLOCK_TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

const packageJson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
const bins = (process.env.DEVICEGATE_BIN || packageJson.bin.devicegate!).split(',').map((path) => resolve(ROOT, path.trim()));
for (const bin of bins) {
  if (!existsSync(bin)) {
    console.error(`${relative(ROOT, bin)} does not exist: run \`npm run build\` first`);
    process.exit(1);
  }
}

// A stored login written by the CLI's own TokenStore (the exact file format `token` reads), with an
// access token valid for an hour: `token` must answer from the file without touching the network.
const home = mkdtempSync(join(tmpdir(), 'devicegate-bench-cli-'));
const accessToken = `bench.${'x'.repeat(600)}.token`;
const now = new Date();
await new TokenStore(home).write({
  version: 1,
  issuer: 'https://auth.example.test',
  client_id: 'bench-cli',
  profile: 'default',
  // Port 9 (discard) on loopback: were `token` to try a refresh, it would fail, not reach anything.
  endpoints: { token: 'http://127.0.0.1:9/oauth/token', revocation: null, jwks_uri: null },
  token_type: 'Bearer',
  access_token: accessToken,
  expires_at: new Date(now.getTime() + 3_600_000).toISOString(),
  refresh_token: 'bench-refresh-token',
  scope: 'openid',
  resource: [],
  created_at: now.toISOString(),
  updated_at: now.toISOString(),
});

interface Case {
  readonly name: string;
  readonly args: readonly string[];
  /** What a correct run prints on stdout (checked every run, so a failing command is not timed as fast). */
  readonly expect: (stdout: string) => boolean;
  readonly times: number[];
  /** CPU time (user + system) of all its runs together, in clock ticks; null where /proc is missing. */
  cpuTicks: number | null;
}
const env: NodeJS.ProcessEnv = { ...process.env, DEVICEGATE_HOME: home, NO_COLOR: '1' };
for (const name of ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NODE_OPTIONS']) delete env[name];

const label = (bin: string) => (bins.length > 1 ? ` (${relative(ROOT, bin)})` : '');
const cases: Case[] = [
  { name: 'node -e 0', args: ['-e', '0'], expect: (out) => out === '', times: [], cpuTicks: 0 },
  ...bins.flatMap((bin): Case[] => [
    { name: `devicegate --help${label(bin)}`, args: [bin, '--help'], expect: (out) => out.includes('Usage: devicegate'), times: [], cpuTicks: 0 },
    { name: `devicegate token${label(bin)}`, args: [bin, 'token'], expect: (out) => out === `${accessToken}\n`, times: [], cpuTicks: 0 },
  ]),
];

function runOnce(c: Case): number {
  const ticksBefore = childCpuTicks();
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, c.args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
  const ticksAfter = childCpuTicks();
  c.cpuTicks = ticksBefore === null || ticksAfter === null || c.cpuTicks === null ? null : c.cpuTicks + ticksAfter - ticksBefore;
  if (result.status !== 0 || !c.expect(result.stdout)) {
    console.error(`${c.name} failed (exit ${result.status}):\n${result.stdout}${result.stderr}`);
    process.exit(1);
  }
  return elapsed;
}

try {
  console.log(`bin: ${bins.map((bin) => `node ${relative(ROOT, bin)}`).join(', ')}   runs: ${RUNS} each (after ${WARMUP} warm-up), interleaved   node ${process.version}`);
  for (let i = 0; i < WARMUP; i++) for (const c of cases) runOnce(c);
  for (const c of cases) if (c.cpuTicks !== null) c.cpuTicks = 0;
  for (let i = 0; i < RUNS; i++) {
    // Rotate the order each round so no command always runs right after another one.
    for (let j = 0; j < cases.length; j++) {
      const c = cases[(i + j) % cases.length]!;
      c.times.push(runOnce(c));
    }
  }
  const floor = median(cases[0]!.times);
  const width = Math.max(...cases.map((c) => c.name.length));
  const floorCpu = meanCpuMs(cases[0]!);
  console.log(
    `${'command'.padEnd(width)} ${'median'.padStart(9)} ${'min'.padStart(9)} ${'max'.padStart(9)}  vs node -e 0   ${'mean CPU'.padStart(9)}  vs node -e 0`,
  );
  for (const c of cases) {
    const m = median(c.times);
    const cpu = meanCpuMs(c);
    console.log(
      `${c.name.padEnd(width)} ${ms(m)} ${ms(Math.min(...c.times))} ${ms(Math.max(...c.times))}  ${`${(m / floor).toFixed(2)}×`.padStart(12)}   ` +
        (cpu === null || floorCpu === null ? '(no /proc)' : `${ms(cpu)}  ${(cpu / floorCpu).toFixed(2)}×`),
    );
  }
  for (const c of cases.filter((c) => c.args.includes('token'))) {
    const ratio = median(c.times) / floor;
    console.log(`${c.name} / node -e 0 = ${ratio.toFixed(2)}× (target ≤ ${TARGET_RATIO}×: ${ratio <= TARGET_RATIO ? 'met' : 'NOT met'})`);
  }
} finally {
  rmSync(home, { recursive: true, force: true });
}

/**
 * CPU time (user + system) of this process's waited-for children so far, in clock ticks: fields
 * cutime and cstime of /proc/self/stat (Linux). A spawnSync child is waited for when it returns, so
 * the difference around one run is that run's CPU time: a figure far less disturbed than wall time
 * when other processes compete for the CPUs. Ticks are coarse (1/CLK_TCK s), so only the sum over all
 * runs is used (its mean per run).
 */
function childCpuTicks(): number | null {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from the 3rd (state) on
    return Number(fields[13]) + Number(fields[14]); // the 16th and 17th: cutime, cstime
  } catch {
    return null;
  }
}

function meanCpuMs(c: Case): number | null {
  return c.cpuTicks === null ? null : (c.cpuTicks / c.times.length / CLOCK_TICKS_PER_SECOND) * 1000;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function ms(value: number): string {
  return `${value.toFixed(1)} ms`.padStart(9);
}

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) {
    console.error(`${name} must be a whole number from 1 to 10000, got ${raw}`);
    process.exit(1);
  }
  return n;
}
