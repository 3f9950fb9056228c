import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { type ProxyTrust, parseProxyTrust } from './http/client-ip.js';

export const DEVICE_CODE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code';
export const REFRESH_TOKEN_GRANT_TYPE = 'refresh_token';
export const AUTHORIZATION_CODE_GRANT_TYPE = 'authorization_code';

export const BUNDLED_CONFIG_PATH = fileURLToPath(new URL('../config/devicegate.example.json', import.meta.url));

/** RFC 8628 §3.2 lifetimes the server dictates; never taken from the client. */
const DeviceCodePolicy = z
  .object({
    expires_in: z.int().min(60).max(86_400).meta({ description: 'Seconds a device_code/user_code pair lives.' }),
    interval: z.int().min(1).max(60).meta({ description: 'Minimum seconds between polls (RFC 8628 §3.2).' }),
  })
  .strict();

const scopeToken = /^[\x21\x23-\x5B\x5D-\x7E]+$/; // RFC 6749 §3.3 scope-token

/** A client, in RFC 7591 client-metadata names. */
const ClientConfig = z
  .object({
    client_id: z.string().min(1).max(255).regex(/^[\x20-\x7E]+$/, 'client_id must be printable ASCII'),
    client_name: z.string().min(1).max(200).optional(),
    active: z.boolean().default(true).meta({ description: 'An inactive client is refused every grant.' }),
    grant_types: z.array(z.string().min(1)).default([]),
    scope: z
      .string()
      .default('')
      .refine((s) => s === '' || s.split(' ').every((t) => scopeToken.test(t)), 'scope must be space-separated scope tokens')
      .meta({ description: 'Space-separated scopes the client may request (RFC 7591 §2).' }),
    token_endpoint_auth_method: z.enum(['none', 'client_secret_basic', 'client_secret_post']).default('none'),
    client_secret_hash: z
      .string()
      .regex(/^\$scrypt\$/, 'client_secret_hash must be a $scrypt$ PHC string from `devicegate hash-password`')
      .optional(),
    resources: z
      .array(z.url())
      .default([])
      .meta({ description: 'RFC 8707 resource indicators (token audiences) this client may ask for.' }),
    redirect_uris: z
      .array(
        z
          .string()
          .min(1)
          .max(2_000)
          .refine((uri) => URL.canParse(uri) && !uri.includes('#'), 'redirect_uris must be absolute URIs without a fragment (RFC 6749 §3.1.2)'),
      )
      .max(20)
      .default([])
      .meta({
        description:
          'RFC 7591 §2: where the authorization endpoint may send this client\'s codes, matched exactly; a loopback ' +
          '`http://127.0.0.1/…` or `http://[::1]/…` URI matches on any port (RFC 8252 §7.3). Required with authorization_code.',
      }),
    device_code: DeviceCodePolicy.partial().optional(),
  })
  .strict()
  .refine((c) => !c.grant_types.includes(AUTHORIZATION_CODE_GRANT_TYPE) || c.redirect_uris.length > 0, {
    message: 'a client with the authorization_code grant needs redirect_uris',
    path: ['redirect_uris'],
  })
  .refine((c) => !c.client_id.startsWith('https://'), {
    message: 'a registered client_id must not be an https URL (those name Client ID Metadata Documents)',
    path: ['client_id'],
  })
  .refine((c) => c.token_endpoint_auth_method === 'none' || c.client_secret_hash !== undefined, {
    message: 'a confidential client needs client_secret_hash',
    path: ['client_secret_hash'],
  })
  .refine((c) => c.token_endpoint_auth_method !== 'none' || c.client_secret_hash === undefined, {
    message: 'a public client (token_endpoint_auth_method "none") must not have a client_secret_hash',
    path: ['client_secret_hash'],
  });
export type ClientConfig = z.infer<typeof ClientConfig>;

/** Token lifetimes, audience and signing keys. */
const TokenPolicy = z
  .object({
    access_token_ttl: z
      .int()
      .min(60)
      .max(86_400)
      .default(600)
      .meta({ description: 'Access token lifetime in seconds (short-lived: MCP authorization spec).' }),
    refresh_token_ttl: z
      .int()
      .min(300)
      .max(31_536_000)
      .default(2_592_000)
      .meta({ description: 'Refresh token lifetime in seconds; each rotation starts a new lifetime.' }),
    default_audience: z
      .url()
      .optional()
      .meta({ description: 'The `aud` of access tokens when the client names no resource; defaults to the issuer.' }),
    jwks_path: z
      .string()
      .min(1)
      .optional()
      .meta({
        description:
          'A JSON file {"keys":[…]} of private ES256 JWKs, relative to this config file; the first signs, all are published. Unset: a key is generated in the data directory.',
      }),
  })
  .strict();

/** A person who can sign in on the verification pages. */
const UserConfig = z
  .object({
    username: z.string().min(1).max(128),
    password_hash: z
      .string()
      .regex(/^\$scrypt\$/, 'password_hash must be a $scrypt$ PHC string from `devicegate hash-password`'),
    name: z.string().min(1).max(200).optional().meta({ description: 'Shown on the pages; defaults to the username.' }),
  })
  .strict();
export type UserConfig = z.infer<typeof UserConfig>;

/** RFC 8628 §5.1: how many failed attempts a client IP and a signed-in account get per window. */
const AttemptLimit = z
  .object({
    per_ip: z.int().min(1).max(10_000).default(10),
    per_account: z.int().min(1).max(10_000).default(10),
    window: z.int().min(60).max(86_400).default(900).meta({ description: 'Seconds.' }),
  })
  .strict();

/** The person's side: sign-in, sessions, brute-force limits, words for scopes. */
const VerificationConfig = z
  .object({
    session_ttl: z.int().min(300).max(86_400).default(3_600).meta({ description: 'Seconds a sign-in lasts.' }),
    trusted_header: z
      .string()
      .regex(/^[A-Za-z0-9-]+$/)
      .optional()
      .meta({
        description:
          'Behind an SSO reverse proxy only: take the signed-in user from this request header (e.g. X-Forwarded-User). ' +
          'Never set it when clients can reach the server without passing the proxy.',
      }),
    failed_code_entries: AttemptLimit.default({ per_ip: 10, per_account: 10, window: 900 }),
    failed_sign_ins: AttemptLimit.default({ per_ip: 10, per_account: 5, window: 900 }),
    scope_descriptions: z
      .record(z.string(), z.string().min(1).max(300))
      .default({})
      .meta({ description: 'Scope → what it lets the client do, in words, for the confirmation page.' }),
  })
  .strict();

/**
 * Signing-key rotation when instances share a Redis (the key set lives there, see
 * src/tokens/shared-keys.ts). A new key is published `activation_delay` seconds before it signs, so
 * every instance (re-reading every `refresh_interval`) and every resource server that caches the
 * JWKS (`Cache-Control: max-age=300`) knows it first; an old key stays published until the last
 * token it signed has expired (`access_token_ttl` + `clock_skew`).
 */
const KeyRotationConfig = z
  .object({
    refresh_interval: z
      .int()
      .min(1)
      .max(3_600)
      .default(30)
      .meta({ description: 'Seconds between re-reads of the shared key set: the bound within which every instance follows a rotation.' }),
    activation_delay: z
      .int()
      .min(1)
      .max(86_400)
      .default(600)
      .meta({ description: 'Seconds a new key is published before it signs; at least refresh_interval (and at least the JWKS cache lifetime, 300 s, for outside resource servers).' }),
    clock_skew: z.int().min(0).max(3_600).default(60).meta({ description: 'Seconds of clock difference tolerated between instances and verifiers.' }),
    rotate_after: z
      .int()
      .min(0)
      .max(31_536_000)
      .default(0)
      .meta({ description: 'Rotate automatically when the signing key is this many seconds old; 0: only `devicegate rotate-keys`.' }),
  })
  .strict()
  .refine((k) => k.activation_delay >= k.refresh_interval, {
    message: 'activation_delay must be at least refresh_interval, or an instance could sign with a key others do not publish yet',
    path: ['activation_delay'],
  });
export type KeyRotationConfig = z.infer<typeof KeyRotationConfig>;

/** A request budget per client IP and per client, over a window (rate-limiter-flexible). */
const RequestLimit = z
  .object({
    per_ip: z.int().min(1).max(1_000_000),
    per_client: z.int().min(1).max(1_000_000),
    window: z.int().min(1).max(86_400).meta({ description: 'Seconds.' }),
  })
  .strict();
export type RequestLimit = z.infer<typeof RequestLimit>;

/** Floods bounded: answered 429 with Retry-After and an RFC 6749 §5.2 body (`slow_down`). */
const RateLimitsConfig = z
  .object({
    device_authorization: RequestLimit.default({ per_ip: 60, per_client: 1_200, window: 60 }).meta({
      description: 'Device authorization requests (each creates a grant in the store) per client IP and per client_id.',
    }),
    failed_client_authentication: RequestLimit.default({ per_ip: 20, per_client: 60, window: 300 }).meta({
      description: 'Failed confidential-client authentications (each costs an scrypt) per client IP and per client_id.',
    }),
  })
  .strict();
export type RateLimitsConfig = z.infer<typeof RateLimitsConfig>;

/** The JSON config file (DEVICEGATE_CONFIG). Its JSON Schema is published as openapi/config.schema.json. */
/**
 * OAuth Client ID Metadata Documents (the MCP authorization spec's way for a client to identify itself
 * without registration): a client_id that is an https URL is resolved by fetching that URL.
 */
const ClientIdMetadataDocumentsConfig = z
  .object({
    enabled: z.boolean().default(false),
    allow_loopback: z
      .boolean()
      .default(false)
      .meta({ description: 'Allow documents on loopback addresses: tests and development only (start-up warns).' }),
    scope: z
      .string()
      .default('')
      .refine((s) => s === '' || s.split(' ').every((t) => scopeToken.test(t)), 'scope must be space-separated scope tokens')
      .meta({ description: 'Space-separated scopes any document-identified client may be granted (it has no registration to say so).' }),
  })
  .strict();

export const ConfigFile = z
  .object({
    $schema: z.string().optional(),
    device_code: DeviceCodePolicy.default({ expires_in: 900, interval: 5 }),
    tokens: TokenPolicy.default({ access_token_ttl: 600, refresh_token_ttl: 2_592_000 }),
    users: z
      .array(UserConfig)
      .default([])
      .refine((users) => new Set(users.map((u) => u.username)).size === users.length, 'usernames must be unique'),
    verification: VerificationConfig.default({
      session_ttl: 3_600,
      failed_code_entries: { per_ip: 10, per_account: 10, window: 900 },
      failed_sign_ins: { per_ip: 10, per_account: 5, window: 900 },
      scope_descriptions: {},
    }),
    key_rotation: KeyRotationConfig.default({ refresh_interval: 30, activation_delay: 600, clock_skew: 60, rotate_after: 0 }),
    rate_limits: RateLimitsConfig.default({
      device_authorization: { per_ip: 60, per_client: 1_200, window: 60 },
      failed_client_authentication: { per_ip: 20, per_client: 60, window: 300 },
    }),
    clients: z
      .array(ClientConfig)
      .min(1)
      .refine((clients) => new Set(clients.map((c) => c.client_id)).size === clients.length, 'client_id values must be unique'),
    resources: z
      .array(z.url())
      .max(100)
      .default([])
      .meta({
        description:
          'RFC 8707 resource indicators (protected resources, e.g. MCP servers) this server issues tokens for. A document-identified ' +
          'client may ask for any of them; a registered client without `resources` of its own gets these.',
      }),
    client_id_metadata_documents: ClientIdMetadataDocumentsConfig.default({ enabled: false, allow_loopback: false, scope: '' }),
  })
  .strict()
  .refine(
    (file) =>
      file.resources.length === 0 || file.clients.every((client) => client.resources.every((resource) => file.resources.includes(resource))),
    { message: "a client's resources must be among the top-level resources (which it narrows)", path: ['clients'] },
  )
  .meta({ title: 'devicegate configuration', description: 'Clients and device-code policy of a devicegate server.' });
export type ConfigFile = z.infer<typeof ConfigFile>;

const Environment = z.object({
  PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  ISSUER: z
    .url({ protocol: /^https?$/ })
    .refine((u) => !u.includes('?') && !u.includes('#'), 'ISSUER must have no query or fragment (RFC 8414 §2)')
    .optional(),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
  // Redis Cluster seed nodes (README, "Redis Cluster"): comma-separated redis:// or rediss:// URLs.
  REDIS_CLUSTER_NODES: z
    .string()
    .transform((value) => value.split(',').map((url) => url.trim()).filter(Boolean))
    .pipe(z.array(z.url({ protocol: /^rediss?$/ })).min(1, 'at least one redis:// or rediss:// seed URL'))
    .optional(),
  DEVICEGATE_CONFIG: z.string().min(1).optional(),
  DEVICEGATE_DATA_DIR: z.string().min(1).optional(),
  // ── Operations (issue 10: proxies, shutdown, faults, slow clients, metrics) ──
  TRUST_PROXY: z
    .string()
    .default('false')
    .transform((value, ctx) => {
      const parsed = parseProxyTrust(value);
      if ('error' in parsed) {
        ctx.addIssue({ code: 'custom', message: `expected false, a hop count or comma-separated CIDRs: ${parsed.error}` });
        return z.NEVER;
      }
      return parsed;
    }),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).max(3_600_000).default(10_000),
  // Worker processes behind one port (node:cluster; README, "Every core"): a count, or `auto` = one per core.
  WORKERS: z
    .union([z.literal('auto'), z.coerce.number().int().min(1).max(256)])
    .default(1)
    .transform((value) => (value === 'auto' ? availableParallelism() : value)),
  HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(5_000),
  HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(5_000),
  MAX_CONNECTIONS: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
  REDIS_COMMAND_TIMEOUT_MS: z.coerce.number().int().min(10).max(60_000).default(500),
  METRICS_PORT: z.coerce.number().int().min(0).max(65_535).optional(),
  // ── end of operations block ──
  /**
   * Encrypts the signing keys and the session key kept in Redis (HKDF-SHA256 → AES-256-GCM).
   * Required with REDIS_URL; every instance on that Redis gets the same value.
   */
  DEVICEGATE_SECRET: z.string().min(32, 'DEVICEGATE_SECRET must be at least 32 characters (e.g. `openssl rand -base64 32`)').optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export interface Config {
  readonly port: number;
  readonly host: string;
  /** Public base URL, no trailing slash. */
  readonly issuer: string;
  readonly redisUrl: string | undefined;
  /** REDIS_CLUSTER_NODES: seed URLs of a Redis Cluster, used instead of REDIS_URL (never both). */
  readonly redisClusterNodes?: readonly string[] | undefined;
  /** WORKERS: HTTP worker processes sharing the port (1: this process serves). */
  readonly workers?: number | undefined;
  /** DEVICEGATE_SECRET: present whenever redisUrl is (checked at load). */
  readonly secret?: string | undefined;
  readonly configPath: string;
  /** Where generated signing keys are kept (mode 0700 directory, 0600 files). */
  readonly dataDir: string;
  readonly logLevel: z.infer<typeof Environment>['LOG_LEVEL'];
  /**
   * Which proxies may append to X-Forwarded-For; the client IP is the first untrusted hop from the
   * right. `false` = none, `true` = 1 hop (the shape configs built in code used before).
   */
  readonly trustProxy: ProxyTrust | boolean;
  /** Shutdown, slow clients, connection cap, Redis timeout, metrics listener; unset: the defaults. */
  readonly operations?: OperationsConfig;
  readonly file: ConfigFile;
}

/** Times in milliseconds. */
export interface OperationsConfig {
  /** How long in-flight requests get to finish after SIGTERM/SIGINT before connections are cut. */
  readonly shutdownTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  /** server.maxConnections: connections beyond it are closed at once. */
  readonly maxConnections: number;
  readonly redisCommandTimeoutMs: number;
  /** Serve /metrics on a listener of its own (the main port then answers 404 there). */
  readonly metricsPort: number | undefined;
}

export const DEFAULT_OPERATIONS: OperationsConfig = Object.freeze({
  shutdownTimeoutMs: 10_000,
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 10_000,
  redisCommandTimeoutMs: 500,
  metricsPort: undefined,
});

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parse environment and config file once, at start-up; a bad value names its field. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsedEnv = Environment.safeParse(emptyToUndefined(env));
  if (!parsedEnv.success) throw new ConfigError(`invalid environment: ${describeIssues(parsedEnv.error)}`);
  const { PORT, HOST, ISSUER, REDIS_URL, DEVICEGATE_CONFIG, DEVICEGATE_DATA_DIR, LOG_LEVEL, TRUST_PROXY, DEVICEGATE_SECRET } = parsedEnv.data;
  const operations: OperationsConfig = {
    shutdownTimeoutMs: parsedEnv.data.SHUTDOWN_TIMEOUT_MS,
    headersTimeoutMs: parsedEnv.data.HTTP_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: parsedEnv.data.HTTP_REQUEST_TIMEOUT_MS,
    keepAliveTimeoutMs: parsedEnv.data.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    maxConnections: parsedEnv.data.MAX_CONNECTIONS,
    redisCommandTimeoutMs: parsedEnv.data.REDIS_COMMAND_TIMEOUT_MS,
    metricsPort: parsedEnv.data.METRICS_PORT,
  };
  // Node requires headersTimeout <= requestTimeout (when both are set).
  if (operations.headersTimeoutMs > operations.requestTimeoutMs) {
    throw new ConfigError('invalid environment: HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS');
  }
  const REDIS_CLUSTER_NODES = parsedEnv.data.REDIS_CLUSTER_NODES;
  if (REDIS_URL && REDIS_CLUSTER_NODES) {
    throw new ConfigError('invalid environment: REDIS_URL, REDIS_CLUSTER_NODES: set one of them (one Redis, or the seed nodes of a Redis Cluster), not both');
  }
  if ((REDIS_URL || REDIS_CLUSTER_NODES) && !DEVICEGATE_SECRET) {
    throw new ConfigError(
      `invalid environment: DEVICEGATE_SECRET: required with ${REDIS_URL ? 'REDIS_URL' : 'REDIS_CLUSTER_NODES'} (it encrypts the signing and session keys shared through Redis; at least 32 characters)`,
    );
  }
  if (parsedEnv.data.WORKERS > 1 && !REDIS_URL && !REDIS_CLUSTER_NODES) {
    throw new ConfigError(
      'invalid environment: WORKERS: several workers need a shared store (REDIS_URL or REDIS_CLUSTER_NODES); the memory store lives in one process, so each worker would hold its own grants and keys',
    );
  }
  const configPath = DEVICEGATE_CONFIG ?? BUNDLED_CONFIG_PATH;
  const file = parseConfigFile(readConfigText(configPath), configPath);
  // A relative jwks_path is relative to the config file, not to wherever the server was started.
  if (file.tokens.jwks_path) file.tokens.jwks_path = resolve(dirname(configPath), file.tokens.jwks_path);
  return deepFreeze({
    port: PORT,
    host: HOST,
    issuer: (ISSUER ?? `http://localhost:${PORT}`).replace(/\/+$/, ''),
    redisUrl: REDIS_URL,
    redisClusterNodes: REDIS_CLUSTER_NODES,
    workers: parsedEnv.data.WORKERS,
    secret: DEVICEGATE_SECRET,
    configPath,
    dataDir: resolve(DEVICEGATE_DATA_DIR ?? '.data'),
    logLevel: LOG_LEVEL,
    trustProxy: TRUST_PROXY,
    operations,
    file,
  });
}

export function parseConfigFile(text: string, source = 'config'): ConfigFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${source}: not valid JSON: ${(error as Error).message}`);
  }
  const parsed = ConfigFile.safeParse(json);
  if (!parsed.success) throw new ConfigError(`${source}: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

function readConfigText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`DEVICEGATE_CONFIG: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
}

/** `clients[1].device_code.interval: Too small: expected number to be >=1` */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length ? formatPath(issue.path) : '(root)'}: ${issue.message}`)
    .join('; ');
}

function formatPath(path: PropertyKey[]): string {
  return path.map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i ? '.' : ''}${String(part)}`)).join('');
}

function emptyToUndefined(env: NodeJS.ProcessEnv): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === '' ? undefined : v]));
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
