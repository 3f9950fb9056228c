import { afterAll, beforeAll, expect } from 'vitest';
import { startTestRedis, type TestRedis } from './redis-server.js';
import { type StoreKind, startTestServer, type TestServer } from './server.js';

/**
 * A test server for one describe block, on the memory store or a private Redis; closed (Redis too,
 * even when start-up failed half-way) after the block. The returned object forwards to the server
 * once it has started.
 */
export function useTestServer(kind: StoreKind): TestServer {
  let redis: TestRedis | undefined;
  let current: TestServer | undefined;
  beforeAll(async () => {
    if (kind === 'redis') redis = await startTestRedis();
    current = await startTestServer(kind, redis);
  });
  afterAll(async () => {
    await current?.close();
    await redis?.close();
  });
  return new Proxy({} as TestServer, {
    get(_, property) {
      if (!current) throw new Error('the test server is used before beforeAll started it');
      return Reflect.get(current, property);
    },
  });
}

/** Asserts an RFC 6749 §5.2 error response: status, code, exactly {error, error_description}, JSON, no-store. */
export async function expectOAuthError(response: Response, status: number, error: string): Promise<string> {
  const body = (await response.json()) as Record<string, unknown>;
  expect({ status: response.status, error: body.error }).toEqual({ status, error });
  expect(Object.keys(body).sort()).toEqual(['error', 'error_description']);
  expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
  expect(response.headers.get('cache-control')).toBe('no-store');
  expect(response.headers.get('pragma')).toBe('no-cache');
  return body.error_description as string;
}
