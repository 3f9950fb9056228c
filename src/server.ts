import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Server as NetServer } from 'node:net';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { type Config, ConfigError, DEFAULT_OPERATIONS } from './config.js';
import { withRedactedErrors } from './logging.js';
import { metricsRegistry, reportReadinessFrom, reportSigningKeyCreatedAtFrom } from './metrics.js';
import { RedisMonitor } from './store/redis/monitor.js';
import { ensurePrivateFile } from './data-dir.js';
import { UserDirectory } from './domain/users.js';
import { FailedAttemptLimiter } from './ui/limiter.js';
import { DEVICE_AUTHORIZATION_LIMITER } from './domain/grant-repository.js';
import { SessionCookies } from './ui/session.js';
import { verificationRoutes } from './ui/verification.js';
import { ClientRegistry } from './domain/clients.js';
import { ClientMetadataFetcher } from './cimd/fetch-client-metadata.js';
import { type Clock, systemClock } from './domain/clock.js';
import { authorizationServerMetadata } from './domain/discovery.js';
import { createApp } from './http/app.js';
import { MemoryDeviceGrantRepository } from './store/memory/grants.js';
import { connectConfiguredRedis, isRedisFailure, type RedisClient, setRedisCallTimeout } from './store/redis/connection.js';
import { RedisDeviceGrantRepository } from './store/redis/grants.js';
import type { DeviceGrantRepository } from './domain/grant-repository.js';
import { MemoryTokenRepository } from './store/memory/tokens.js';
import { MemoryAuthorizationCodeRepository } from './store/memory/authorization-codes.js';
import { RedisAuthorizationCodeRepository } from './store/redis/authorization-codes.js';
import { authorizationCodeKeyBuilder } from './store/redis/key-names.js';
import type { AuthorizationCodeRepository } from './domain/authorization-code.js';
import { RedisTokenRepository } from './store/redis/tokens.js';
import type { TokenRepository } from './domain/token-repository.js';
import { AccessTokenIssuer } from './tokens/access-token.js';
import { DATA_DIR_KEYS_FILE, loadSigningKeys } from './tokens/signing-keys.js';
import type { Services } from './app/services.js';
import { AuditLog } from './http/audit.js';
import { VerifiedSecretCache } from './domain/verified-secrets.js';
import { SealedBox } from './tokens/sealed-box.js';
import { ensureSharedSessionKey, KeyringFollower } from './tokens/shared-keys.js';
import type { SigningKeys } from './tokens/signing-keys.js';
import { MemorySessionRevocations, RedisSessionRevocations } from './ui/session-revocations.js';

export interface Stores {
  readonly grants: DeviceGrantRepository;
  readonly tokens: TokenRepository;
  /** Authorization codes (code flow); absent: made on the same Redis connection, or in memory. */
  readonly authorizationCodes?: AuthorizationCodeRepository;
  /** The Redis connection behind them, if any: the rate limiters count on the same store. */
  readonly redis?: RedisClient;
  /** Key prefix of everything on that connection (tests give each server its own). */
  readonly keyPrefix?: string;
  close(): Promise<void>;
}

export interface RunningServer {
  readonly url: string;
  /** Where /metrics is served when METRICS_PORT gives it a listener of its own. */
  readonly metricsUrl?: string;
  readonly stores: Stores;
  readonly services: Services;
  /** What /readyz answers: the store takes writes and the server is not draining. */
  isReady(): boolean;
  /**
   * Graceful: readiness false at once, stop accepting, let requests in flight finish (at most
   * SHUTDOWN_TIMEOUT_MS), close idle keep-alive connections, then close the store. Idempotent.
   */
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
  if (!config.redisUrl && !config.redisClusterNodes?.length) {
    const grants = new MemoryDeviceGrantRepository(clock);
    const tokens = new MemoryTokenRepository(clock);
    return { grants, tokens, close: async () => {
      await grants.close();
      await tokens.close();
    } };
  }
  let redis: RedisClient;
  try {
    setRedisCallTimeout((config.operations ?? DEFAULT_OPERATIONS).redisCommandTimeoutMs);
    redis = await connectConfiguredRedis(config);
  } catch (error) {
    // Start-up with Redis down exits (69, EX_UNAVAILABLE) with this message; the supervisor retries.
    throw new StoreUnavailableError(
      `cannot reach Redis at ${config.redisClusterNodes?.length ? config.redisClusterNodes.map(redisHostForMessages).join(',') : redisHostForMessages(config.redisUrl!)} (${(error as Error).message.slice(0, 120)}); ` +
        'start Redis first — devicegate does not serve without its store',
    );
  }
  const grants = new RedisDeviceGrantRepository(redis);
  const tokens = new RedisTokenRepository(redis, undefined, { ownsConnection: false });
  return { grants, tokens, redis, close: () => grants.close() };
}

/** Redis was unreachable at start-up. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}

/** host:port only: a REDIS_URL may carry a password. */
function redisHostForMessages(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '6379'}`;
  } catch {
    return '(REDIS_URL)';
  }
}

/** The key that signs session cookies: 32 random bytes kept in the data directory (0600). */
async function loadSessionKey(dataDir: string): Promise<Buffer> {
  const path = await ensurePrivateFile(dataDir, 'session-key', async () => `${randomBytes(32).toString('base64url')}\n`);
  const key = Buffer.from((await readFile(path, 'utf8')).trim(), 'base64url');
  if (key.length < 32) throw new ConfigError(`${path}: the session key must be at least 32 bytes`);
  return key;
}

/** Wires config → stores, keys → services → the HTTP front (and the pages' Koa app) and listens. */
export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const clock = options.clock ?? systemClock;
  const logger = withRedactedErrors(options.logger ?? pino({ level: config.logLevel }));
  const operations = config.operations ?? DEFAULT_OPERATIONS;
  const stores = options.stores ?? (await openStores(config, clock));
  const shared = await openSharedState(config, stores, clock, logger);
  const authorizationCodes =
    stores.authorizationCodes ??
    (stores.redis
      ? new RedisAuthorizationCodeRepository(stores.redis, authorizationCodeKeyBuilder(stores.keyPrefix ?? 'devicegate:'), { ownsConnection: false })
      : new MemoryAuthorizationCodeRepository(clock));
  const keys: SigningKeys | { current(): SigningKeys } =
    config.file.tokens.jwks_path === undefined && shared
      ? shared.keyring
      : await loadSigningKeys({ jwksPath: config.file.tokens.jwks_path, dataDir: config.dataDir });
  const currentKeys = () => ('current' in keys ? keys.current() : keys);
  reportSigningKeyCreatedAtFrom(
    'current' in keys && shared ? () => shared.keyring.signingKeyCreatedAt() : fileKeyCreatedAt(config.file.tokens.jwks_path ?? join(config.dataDir, DATA_DIR_KEYS_FILE)),
  );
  const audit = new AuditLog(logger);
  const rateLimits = config.file.rate_limits;
  const accessTokens = new AccessTokenIssuer(keys, {
    issuer: config.issuer,
    ttlSeconds: config.file.tokens.access_token_ttl,
    clock,
  });
  const services: Services = {
    clients: new ClientRegistry(
      config.file.clients,
      {
        failedAuthentications: new FailedAttemptLimiter('client_auth', limitPolicy(rateLimits.failed_client_authentication), stores),
        verifiedSecrets: new VerifiedSecretCache(clock),
      },
      { resources: config.file.resources, metadataDocuments: metadataDocumentSupport(config, logger) },
    ),
    deviceAuthorizationLimiter: new FailedAttemptLimiter(DEVICE_AUTHORIZATION_LIMITER, limitPolicy(rateLimits.device_authorization), stores),
    deviceAuthorizationFloodLimit: {
      perIp: rateLimits.device_authorization.per_ip,
      perClient: rateLimits.device_authorization.per_client,
      windowSeconds: rateLimits.device_authorization.window,
    },
    audit,
    deviceAuthorization: { store: stores.grants, clock, issuer: config.issuer, defaultPolicy: config.file.device_code },
    tokenGrants: {
      grants: stores.grants,
      authorizationCodes,
      tokens: stores.tokens,
      accessTokens,
      clock,
      issuer: config.issuer,
      policy: config.file.tokens,
      securityLog: (event) => logger.warn(event, 'security event'),
    },
    tokenAdmin: { tokens: stores.tokens, accessTokens, clock },
    metadata: authorizationServerMetadata(config.issuer, config.file.clients, {
      clientIdMetadataDocuments: config.file.client_id_metadata_documents.enabled,
      documentScope: config.file.client_id_metadata_documents.scope,
    }),
    // A getter: with the shared keyring the published set changes with rotations.
    get jwks() {
      return { keys: currentKeys().publicJwks.keys.map((key) => ({ ...key })) };
    },
  };
  const verification = config.file.verification;
  const pages = verificationRoutes({
    grants: stores.grants,
    clients: services.clients,
    users: new UserDirectory(config.file.users),
    sessions: new SessionCookies({
      key: shared?.sessionKey ?? (await loadSessionKey(config.dataDir)),
      clock,
      ttlSeconds: verification.session_ttl,
      secure: config.issuer.startsWith('https:'),
    }),
    codeEntryLimiter: new FailedAttemptLimiter('code', verification.failed_code_entries, stores),
    signInLimiter: new FailedAttemptLimiter('sign_in', verification.failed_sign_ins, stores),
    settings: verification,
    clock,
    logger,
    isStoreFailure: isRedisFailure,
    sessionRevocations: stores.redis
      ? new RedisSessionRevocations(stores.redis, stores.keyPrefix ?? 'devicegate:', clock)
      : new MemorySessionRevocations(clock),
    audit,
  }, {
    endpoint: { clients: services.clients, codes: authorizationCodes, clock, issuer: config.issuer },
    documentRequestLimiter: config.file.client_id_metadata_documents.enabled
      ? new FailedAttemptLimiter('authorization_request', limitPolicy(rateLimits.device_authorization), stores)
      : undefined,
    settings: verification,
    audit,
  });
  // Readiness (issue 10 §6): the store takes writes (a cached probe, src/store/redis/monitor.ts) and
  // we are not draining.
  let draining = false;
  const monitor = stores.redis
    ? new RedisMonitor(stores.redis, `${stores.keyPrefix ?? 'devicegate:'}health:${randomBytes(6).toString('hex')}`, logger)
    : undefined;
  if (monitor) {
    await monitor.probe();
    monitor.start();
  }
  const isReady = () => !draining && (monitor?.up ?? true);
  reportReadinessFrom(isReady);

  const app = createApp({
    services,
    pages,
    logger,
    trustProxy: config.trustProxy,
    isStoreFailure: isRedisFailure,
    operations: { isReady, isDraining: () => draining, metricsOnMainPort: operations.metricsPort === undefined },
  });
  const server = createServer(
    {
      // Slow clients: Node checks these timeouts only every connectionsCheckingInterval (30 s by
      // default); check often so a slow-loris connection is cut close to the setting.
      headersTimeout: operations.headersTimeoutMs,
      requestTimeout: operations.requestTimeoutMs,
      keepAliveTimeout: operations.keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.min(500, Math.ceil(operations.headersTimeoutMs / 4)),
    },
    app,
  );
  server.maxConnections = operations.maxConnections;
  server.on('clientError', answerUnparseableRequest);
  await listen(server, config.port, config.host);
  const metricsServer = operations.metricsPort === undefined ? undefined : createServer(metricsOnly);
  if (metricsServer) await listen(metricsServer, operations.metricsPort!, config.host);

  const hostForUrl = config.host.includes(':') ? `[${config.host}]` : config.host;
  let closing: Promise<void> | undefined;
  const drain = async () => {
    draining = true;
    logger.info({ event: 'drain_start', openConnections: await openConnections() }, 'draining: no new connections');
    // Stop listening, but not http.Server#close(): that also closes idle connections at once, and a
    // connection whose request bytes have arrived but are not parsed yet counts as idle. One
    // loop turn later those requests are in flight and only truly idle connections are closed.
    const allClosed = new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve()));
    await new Promise((resolve) => setTimeout(resolve, 50));
    server.closeIdleConnections();
    // Requests in flight finish (their responses carry Connection: close); past the drain timeout
    // whatever is left is cut.
    const deadline = setTimeout(() => {
      logger.warn({ event: 'drain_timeout', timeoutMs: operations.shutdownTimeoutMs }, 'drain timed out: closing connections');
      server.closeAllConnections();
    }, operations.shutdownTimeoutMs);
    await allClosed;
    clearTimeout(deadline);
    if (metricsServer) await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
    monitor?.stop();
    shared?.keyring.close();
    if (!stores.authorizationCodes) await authorizationCodes.close();
    await stores.close();
    logger.info({ event: 'drain_end' }, 'drained: every request answered, store closed');
  };
  const openConnections = () => new Promise<number>((resolve) => server.getConnections((_, count) => resolve(count ?? 0)));
  return {
    url: `http://${hostForUrl}:${(server.address() as AddressInfo).port}`,
    metricsUrl: metricsServer ? `http://${hostForUrl}:${(metricsServer.address() as AddressInfo).port}/metrics` : undefined,
    stores,
    services,
    isReady,
    close() {
      closing ??= drain();
      return closing;
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject).listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Node's parser errors, as Node would answer them but with an RFC 6749 §5.2 JSON body. */
const CLIENT_ERROR_STATUS: Readonly<Record<string, [number, string]>> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout'],
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'Payload Too Large'],
};

/**
 * A request the HTTP parser refused (headers too large, malformed, too slow) never reaches a handler;
 * Node's default answer has no body. Every answer here is JSON like the rest, so a client of the
 * OAuth endpoints always gets an `error` it can read (RFC 6749 §5.2).
 */
function answerUnparseableRequest(error: Error & { code?: string }, socket: Duplex): void {
  // As Node's default handler: nothing is written once a response has begun on this socket.
  const responding = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (error.code === 'ECONNRESET' || !socket.writable || responding?.headersSent) {
    socket.destroy();
    return;
  }
  const [status, reason] = CLIENT_ERROR_STATUS[error.code ?? ''] ?? [400, 'Bad Request'];
  const body = JSON.stringify({ error: 'invalid_request', error_description: reason.toLowerCase() });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nCache-Control: no-store\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** METRICS_PORT's listener: /metrics and nothing else. */
function metricsOnly(request: IncomingMessage, response: ServerResponse): void {
  if (request.url !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
    response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
    return;
  }
  metricsRegistry.metrics().then(
    (text) => response.writeHead(200, { 'Content-Type': metricsRegistry.contentType, 'Cache-Control': 'no-store' }).end(text),
    () => response.writeHead(500).end(),
  );
}

/** Client ID Metadata Documents when enabled; loopback documents only for tests and development (warned). */
function metadataDocumentSupport(config: Config, logger: Logger) {
  const settings = config.file.client_id_metadata_documents;
  if (!settings.enabled) return undefined;
  if (settings.allow_loopback) {
    logger.warn(
      { event: 'cimd_allow_loopback' },
      'client_id_metadata_documents.allow_loopback is on: client metadata documents may be fetched from loopback addresses (tests and development only)',
    );
  }
  return {
    resolver: new ClientMetadataFetcher({ allowLoopback: settings.allow_loopback }),
    scope: settings.scope,
    resources: config.file.resources,
  };
}

/** FailedAttemptLimiter's names: "account" is the client here. */
function limitPolicy(limit: Config['file']['rate_limits']['device_authorization']) {
  return { per_ip: limit.per_ip, per_account: limit.per_client, window: limit.window };
}

/**
 * With Redis and DEVICEGATE_SECRET: the signing keys and the session key every instance shares
 * (src/tokens/shared-keys.ts). Without Redis: nothing shared, this process is the only one.
 */
async function openSharedState(config: Config, stores: Stores, clock: Clock, logger: Logger) {
  if (!stores.redis || !config.secret) {
    if (!stores.redis) {
      logger.info(
        { store: 'memory', data_dir: config.dataDir },
        'memory store: single process only (grants, tokens, sessions and limits live in this process; keys in the data directory). Set REDIS_URL and DEVICEGATE_SECRET to run several instances',
      );
    }
    return undefined;
  }
  const location = { redis: stores.redis, keyPrefix: stores.keyPrefix ?? 'devicegate:', box: new SealedBox(config.secret) };
  try {
    const keyring = await KeyringFollower.start({
      ...location,
      clock,
      rotation: config.file.key_rotation,
      accessTokenTtlSeconds: config.file.tokens.access_token_ttl,
      log: (event, message) => logger.info(event, message),
    });
    return { keyring, sessionKey: await ensureSharedSessionKey(location) };
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`REDIS_URL: cannot read or create the shared keys (${(error as Error).name})`);
  }
}

/** A key file's modification time stands for its keys' creation (a file key set is replaced whole). */
function fileKeyCreatedAt(path: string): () => number | null {
  let modifiedAt: number | null = null;
  try {
    modifiedAt = statSync(path).mtimeMs;
  } catch {
    // No file to date (keys given another way): the gauge stays unset.
  }
  return () => modifiedAt;
}
