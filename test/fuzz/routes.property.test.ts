import fc from 'fast-check';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';
import { type StoreKind, startTestServer, type TestServer } from '../support/server.js';
import { ALL_ROUTES, fuzzRequestFor, send, violations } from '../support/fuzz-requests.js';

/**
 * Issue 10 §7: property-based requests at every endpoint and page route. Whatever arrives — wrong
 * methods, malformed forms, binary bodies, odd content types, broken Basic credentials, junk cookies
 * and X-Forwarded-For — the answer is never a 5xx or a hang, and OAuth routes always answer with an
 * RFC 6749 §5.2 JSON body. 200 runs per route, on both stores.
 */
const RUNS_PER_ROUTE = 200;

describe.each<StoreKind>(['memory', 'redis'])('fuzzing every route (%s store)', (kind) => {
  let redis: TestRedis | undefined;
  let server: TestServer;
  let pool: Pool;

  beforeAll(async () => {
    if (kind === 'redis') redis = await startTestRedis();
    server = await startTestServer(kind, redis);
    pool = new Pool(server.url, { connections: 8 });
  });
  afterAll(async () => {
    await pool.close();
    await server.close();
    await redis?.close();
  });

  it.each(ALL_ROUTES.map((route) => [`${route.method} ${route.path}`, route] as const))('%s: no 5xx, no hang, RFC bodies', async (_, route) => {
    await fc.assert(
      fc.asyncProperty(fuzzRequestFor(route), async (request) => {
        const answer = await send(pool, request);
        expect(violations(request, answer), `${request.method} ${request.path.slice(0, 80)} → ${answer.status}`).toEqual([]);
      }),
      { numRuns: RUNS_PER_ROUTE },
    );
  }, 120_000);
});
