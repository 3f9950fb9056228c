import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Redis } from 'ioredis';
import { type Config, ConfigError } from './config.js';
import { ensurePrivateFile } from './data-dir.js';
import { UserDirectory } from './domain/users.js';
import { FailedAttemptLimiter } from './ui/limiter.js';
import { SessionCookies } from './ui/session.js';
import { verificationRoutes } from './ui/verification.js';
import { ClientRegistry } from './domain/clients.js';
import { type Clock, systemClock } from './domain/clock.js';
import { authorizationServerMetadata } from './domain/discovery.js';
import { createApp } from './http/app.js';
import { MemoryDeviceGrantRepository } from './store/memory/grants.js';
import { connectRedis } from './store/redis/connection.js';
import { RedisDeviceGrantRepository } from './store/redis/grants.js';
import type { DeviceGrantRepository } from './domain/grant-repository.js';
import { MemoryTokenRepository } from './store/memory/tokens.js';
import { RedisTokenRepository } from './store/redis/tokens.js';
import type { TokenRepository } from './domain/token-repository.js';
import { AccessTokenIssuer } from './tokens/access-token.js';
import { loadSigningKeys } from './tokens/signing-keys.js';
import type { Services } from './app/services.js';

export interface Stores {
  readonly grants: DeviceGrantRepository;
  readonly tokens: TokenRepository;
  /** The Redis connection behind them, if any: the rate limiters count on the same store. */
  readonly redis?: Redis;
  /** Key prefix of everything on that connection (tests give each server its own). */
  readonly keyPrefix?: string;
  close(): Promise<void>;
}

export interface RunningServer {
  readonly url: string;
  readonly stores: Stores;
  readonly services: Services;
  close(): Promise<void>;
}

export interface StartOptions {
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Use these repositories instead of the ones the config selects (tests). */
  readonly stores?: Stores;
}

/** REDIS_URL set: both repositories on one Redis connection; unset: the embedded memory stores. */
export async function openStores(config: Config, clock: Clock): Promise<Stores> {
  if (!config.redisUrl) {
    const grants = new MemoryDeviceGrantRepository(clock);
    const tokens = new MemoryTokenRepository(clock);
    return { grants, tokens, close: async () => {
      await grants.close();
      await tokens.close();
    } };
  }
  const redis = await connectRedis(config.redisUrl);
  const grants = new RedisDeviceGrantRepository(redis);
  const tokens = new RedisTokenRepository(redis, undefined, { ownsConnection: false });
  return { grants, tokens, redis, close: () => grants.close() };
}

/** The key that signs session cookies: 32 random bytes kept in the data directory (0600). */
async function loadSessionKey(dataDir: string): Promise<Buffer> {
  const path = await ensurePrivateFile(dataDir, 'session-key', async () => `${randomBytes(32).toString('base64url')}\n`);
  const key = Buffer.from((await readFile(path, 'utf8')).trim(), 'base64url');
  if (key.length < 32) throw new ConfigError(`${path}: the session key must be at least 32 bytes`);
  return key;
}

/** Wires config → stores, keys → services → Koa and listens. */
export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? pino({ level: config.logLevel });
  const keys = await loadSigningKeys({ jwksPath: config.file.tokens.jwks_path, dataDir: config.dataDir });
  const stores = options.stores ?? (await openStores(config, clock));
  const accessTokens = new AccessTokenIssuer(keys, {
    issuer: config.issuer,
    ttlSeconds: config.file.tokens.access_token_ttl,
    clock,
  });
  const services: Services = {
    clients: new ClientRegistry(config.file.clients),
    deviceAuthorization: { store: stores.grants, clock, issuer: config.issuer, defaultPolicy: config.file.device_code },
    tokenGrants: {
      grants: stores.grants,
      tokens: stores.tokens,
      accessTokens,
      clock,
      issuer: config.issuer,
      policy: config.file.tokens,
      securityLog: (event) => logger.warn(event, 'security event'),
    },
    tokenAdmin: { tokens: stores.tokens, accessTokens, clock },
    metadata: authorizationServerMetadata(config.issuer, config.file.clients),
    jwks: { keys: keys.publicJwks.keys.map((key) => ({ ...key })) },
  };
  const verification = config.file.verification;
  const pages = verificationRoutes({
    grants: stores.grants,
    clients: services.clients,
    users: new UserDirectory(config.file.users),
    sessions: new SessionCookies({
      key: await loadSessionKey(config.dataDir),
      clock,
      ttlSeconds: verification.session_ttl,
      secure: config.issuer.startsWith('https:'),
    }),
    codeEntryLimiter: new FailedAttemptLimiter('code', verification.failed_code_entries, stores),
    signInLimiter: new FailedAttemptLimiter('sign_in', verification.failed_sign_ins, stores),
    settings: verification,
    clock,
    logger,
  });
  const app = createApp({ services, pages, logger, trustProxy: config.trustProxy });
  const server: Server = await new Promise((resolve, reject) => {
    const listening = app.listen(config.port, config.host, () => resolve(listening)).once('error', reject);
  });
  // Slow-loris guard: a client gets this long to send a request.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
    stores,
    services,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await stores.close();
    },
  };
}
