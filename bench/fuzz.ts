/**
 * bench/fuzz.ts — `npm run bench:fuzz`: adversarial requests against a real devicegate process on a
 * private redis-server (issue 10 §7). Every route (OAuth endpoints, service documents, pages) gets
 * the same generated requests as the property tests in test/fuzz/ — wrong methods, malformed and
 * binary bodies, odd content types, broken Basic credentials, junk cookies and X-Forwarded-For —
 * and the run prints the status counts, the 5xx count, non-JSON bodies on OAuth routes and hangs.
 * Target: all three 0. Exit code 1 when any is not.
 *
 * Settings (env): FUZZ_REQUESTS (100000), FUZZ_CONNECTIONS (32), FUZZ_SEED (random), FUZZ_TIMEOUT_MS (5000).
 * Only 127.0.0.1 is ever contacted.
 */
import fc from 'fast-check';
import { Pool } from 'undici';
import { spawnDevicegate } from '../test/ops/process.js';
import { ALL_ROUTES, type FuzzRequest, fuzzRequestFor, OAUTH_PATHS, send, violations } from '../test/support/fuzz-requests.js';
import { startTestRedis } from '../test/support/redis-server.js';

const total = Number(process.env.FUZZ_REQUESTS ?? 100_000);
const connections = Number(process.env.FUZZ_CONNECTIONS ?? 32);
const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const timeoutMs = Number(process.env.FUZZ_TIMEOUT_MS ?? 5_000);

const redis = await startTestRedis();
const devicegate = await spawnDevicegate({ REDIS_URL: redis.url, LOG_LEVEL: 'warn' });
const pool = new Pool(devicegate.url, { connections, pipelining: 1 });

const arbitraries = ALL_ROUTES.map((route) => fuzzRequestFor(route));
const statusCounts = new Map<number, number>();
let serverErrors = 0;
let nonJsonOAuth = 0;
let hangs = 0;
const examples: string[] = [];
let sent = 0;
let completed = 0;
/** 5xx by route (/readyz's 503 is its answer, reported apart: it says the store is slow or down). */
const serverErrorsByRoute = new Map<string, number>();
let readinessUnavailable = 0;
const started = performance.now();

/** Requests in batches per route, generated deterministically from the seed. */
function* requests(): Generator<FuzzRequest> {
  let batch = 0;
  while (sent < total) {
    for (const [i, arbitrary] of arbitraries.entries()) {
      for (const request of fc.sample(arbitrary, { numRuns: 50, seed: seed + batch * 1_000 + i })) yield request;
    }
    batch++;
  }
}

const source = requests();
async function worker(): Promise<void> {
  for (;;) {
    if (sent >= total) return;
    const next = source.next();
    if (next.done) return;
    sent++;
    const request = next.value;
    const answer = await send(pool, request, timeoutMs);
    statusCounts.set(answer.status, (statusCounts.get(answer.status) ?? 0) + 1);
    const found = violations(request, answer);
    const route = request.path.split('?')[0]!;
    if (answer.hung) hangs++;
    else if (answer.status === 503 && route === '/readyz') readinessUnavailable++;
    else if (answer.status >= 500) {
      serverErrors++;
      serverErrorsByRoute.set(`${route} ${answer.status}`, (serverErrorsByRoute.get(`${route} ${answer.status}`) ?? 0) + 1);
    }
    if (found.some((v) => v.startsWith('non-JSON') || v.startsWith('unparseable') || v.startsWith('bad error'))) nonJsonOAuth++;
    if (found.length && !(answer.status === 503 && route === '/readyz') && examples.length < 10) examples.push(`${request.method} ${request.path.slice(0, 100)} → ${answer.status}: ${found.join(', ')}`);
    if (++completed % 10_000 === 0) process.stderr.write(`  ${completed} answered, ${Math.round(completed / ((performance.now() - started) / 1000))} req/s\n`);
  }
}

try {
  await Promise.all(Array.from({ length: connections }, worker));
  const seconds = (performance.now() - started) / 1000;
  const byStatus = [...statusCounts].sort(([a], [b]) => a - b).map(([status, count]) => `${status === 0 ? 'hang' : status}: ${count}`);
  console.log(`bench/fuzz: ${sent} adversarial requests over ${ALL_ROUTES.length} routes (${OAUTH_PATHS.size} OAuth), seed ${seed}, ${connections} connections, ${seconds.toFixed(1)} s (${Math.round(sent / seconds)} req/s)`);
  console.log(`status counts: ${byStatus.join(', ')}`);
  console.log(`5xx: ${serverErrors}   non-JSON bodies on OAuth routes: ${nonJsonOAuth}   hangs: ${hangs}   (/readyz 503s, not counted: ${readinessUnavailable})`);
  for (const [where, count] of serverErrorsByRoute) console.log(`  5xx ${where}: ${count}`);
  for (const example of examples) console.log(`  ${example}`);
  process.exitCode = serverErrors || nonJsonOAuth || hangs ? 1 : 0;
} finally {
  await pool.close();
  devicegate.child.kill('SIGTERM');
  await devicegate.exited;
  await redis.close();
}
