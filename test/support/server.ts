import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { type Logger, pino } from 'pino';
import { type ClientConfig, type Config, type ConfigFile, parseConfigFile } from '../../src/config.js';
import { type Clock, ManualClock, systemClock } from '../../src/domain/clock.js';
import { hashSecret } from '../../src/domain/password.js';
import { type RunningServer, type Stores, startServer } from '../../src/server.js';
import { MemoryDeviceGrantRepository } from '../../src/store/memory/grants.js';
import { keyBuilder } from '../../src/store/redis/key-names.js';
import { connectRedis } from '../../src/store/redis/connection.js';
import { RedisDeviceGrantRepository } from '../../src/store/redis/grants.js';
import { MemoryTokenRepository } from '../../src/store/memory/tokens.js';
import { tokenKeyBuilder } from '../../src/store/redis/key-names.js';
import { RedisTokenRepository } from '../../src/store/redis/tokens.js';
import { freePort, type TestRedis } from './redis-server.js';

export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
export const CONFIDENTIAL_SECRET = 'correct horse battery staple';

export const TEST_USERS = { alice: 'alice-password', bob: 'bob-password' } as const;

// scrypt is deliberately slow: hash the test secrets once per test file.
let testSecrets: ReturnType<typeof hashTestSecrets> | undefined;
async function hashTestSecrets() {
  const secretHash = await hashSecret(CONFIDENTIAL_SECRET);
  const users = await Promise.all(
    Object.entries(TEST_USERS).map(async ([username, password]) => ({ username, password_hash: await hashSecret(password) })),
  );
  return { secretHash, users };
}

/** Clients covering every registration the endpoints distinguish. */
export async function testClients(): Promise<ClientConfig[]> {
  return (await testConfigFile()).clients;
}

/** The test server's config file: the clients below, two users, default verification limits. */
export async function testConfigFile(overrides: Partial<Record<keyof ConfigFile, unknown>> = {}): Promise<ConfigFile> {
  const { secretHash, users } = await (testSecrets ??= hashTestSecrets());
  return parseConfigFile(
    JSON.stringify({
      device_code: { expires_in: 600, interval: 5 },
      tokens: { access_token_ttl: 600, refresh_token_ttl: 86_400 },
      users,
      verification: { scope_descriptions: { 'mcp:tools': 'Use MCP tools on your behalf' } },
      // Tests send many requests from 127.0.0.1: the flood limits are tested on their own (test/http/flood-limits.test.ts).
      rate_limits: {
        device_authorization: { per_ip: 100_000, per_client: 100_000, window: 60 },
        failed_client_authentication: { per_ip: 100_000, per_client: 100_000, window: 60 },
      },
      ...overrides,
      clients: [
        {
          client_id: 'demo-cli',
          client_name: 'Demo CLI',
          grant_types: [DEVICE_GRANT, 'refresh_token'],
          scope: 'openid profile mcp:tools',
          resources: ['https://mcp.example.com/', 'https://other.example.com/api'],
        },
        {
          // Real clients in end-to-end tests poll in real time: a 1 s interval keeps them quick.
          client_id: 'fast-cli',
          client_name: 'Fast CLI',
          grant_types: [DEVICE_GRANT, 'refresh_token'],
          scope: 'openid profile mcp:tools',
          resources: ['https://mcp.example.com/'],
          device_code: { expires_in: 120, interval: 1 },
        },
        {
          client_id: 'slow-cli',
          grant_types: [DEVICE_GRANT],
          scope: 'openid',
          device_code: { expires_in: 300, interval: 10 },
        },
        { client_id: 'no-device-grant', grant_types: ['refresh_token'], scope: 'openid' },
        { client_id: 'inactive-cli', active: false, grant_types: [DEVICE_GRANT], scope: 'openid' },
        {
          client_id: 'basic-service',
          grant_types: [DEVICE_GRANT],
          scope: 'openid',
          token_endpoint_auth_method: 'client_secret_basic',
          client_secret_hash: secretHash,
        },
        {
          client_id: 'post-service',
          grant_types: [DEVICE_GRANT],
          scope: 'openid',
          token_endpoint_auth_method: 'client_secret_post',
          client_secret_hash: secretHash,
        },
      ],
    }),
  );
}

export type StoreKind = 'memory' | 'redis';

export interface TestServer extends RunningServer {
  readonly clock: ManualClock;
}

/** A test server on the real clock, for third-party clients that wait in real time. */
export async function startRealTimeTestServer(kind: StoreKind, redis?: TestRedis): Promise<RunningServer> {
  return startTestServer(kind, redis, systemClock as ManualClock);
}

/**
 * The run-time config of a test server: a free port on 127.0.0.1, the issuer on it, a fresh data
 * directory, silent logs, no proxy, the test clients; `overrides` replaces any of it.
 */
export async function testConfig(overrides: Partial<Config> = {}): Promise<Config> {
  const port = overrides.port ?? (await freePort());
  return {
    port,
    host: '127.0.0.1',
    issuer: `http://127.0.0.1:${port}`,
    redisUrl: undefined,
    configPath: '(test)',
    dataDir: mkdtempSync(join(tmpdir(), 'devicegate-data-')),
    logLevel: 'silent',
    trustProxy: false,
    ...overrides,
    file: overrides.file ?? (await testConfigFile()),
  };
}

/** A real HTTP server on a free port with the test clients, on the memory store or a private Redis. */
export async function startTestServer(
  kind: StoreKind,
  redis?: TestRedis,
  clock = new ManualClock(Date.now()),
  file?: ConfigFile,
): Promise<TestServer> {
  const config = await testConfig({ file: file ?? (await testConfigFile()) });
  const server = await startServer(config, { clock, stores: await testStores(kind, clock, redis), logger: pino({ level: 'silent' }) });
  return { ...server, clock };
}

/** Both repositories, on the memory store or on one connection to a private Redis with its own key prefix. */
export async function testStores(kind: StoreKind, clock: Clock, redis?: TestRedis): Promise<Stores> {
  if (kind === 'memory') {
    const grants = new MemoryDeviceGrantRepository(clock);
    const tokens = new MemoryTokenRepository(clock);
    return { grants, tokens, close: async () => {
      await grants.close();
      await tokens.close();
    } };
  }
  const prefix = redis!.prefix();
  const connection = await connectRedis(redis!.url);
  const grants = new RedisDeviceGrantRepository(connection, keyBuilder(prefix));
  const tokens = new RedisTokenRepository(connection, tokenKeyBuilder(prefix), { ownsConnection: false });
  return { grants, tokens, redis: connection, keyPrefix: prefix, close: () => grants.close() };
}

export function form(params: Record<string, string | string[]>): string {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) for (const v of [value].flat()) body.append(name, v);
  return body.toString();
}

export function basic(clientId: string, secret: string): string {
  const enc = (v: string) => encodeURIComponent(v).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(clientId)}:${enc(secret)}`).toString('base64')}`;
}

/** A pino logger at `info` whose JSON lines are parsed into `lines` (audit and log assertions). */
export function capturingLogger(lines: Record<string, unknown>[]): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return pino({ level: 'info' }, sink);
}
