import { lookup as dnsLookup } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { Agent, buildConnector, request } from 'undici';
import {
  assertClientIdUrl,
  type ClientMetadataDocumentClient,
  ClientMetadataError,
  type ClientMetadataResolver,
  parseClientMetadataDocument,
} from '../domain/client-metadata-document.js';
import { refusedAddressReason } from './address-policy.js';

/**
 * Fetches and caches Client ID Metadata Documents, defensively: the URL comes from whoever wrote the
 * client_id, so every fetch is bounded in time and size, follows no redirect, and connects only to
 * public addresses — checked on the resolved address of every connection (see address-policy.ts).
 *
 * Redirects: none are followed (a 3xx is `redirect`). The document's identity is its URL; a redirect
 * would make the server trust content from somewhere else, and a loop cannot happen.
 */
export interface ClientMetadataFetcherOptions {
  /** Loopback (127.0.0.0/8, ::1) allowed: tests and development only; private ranges stay refused. */
  readonly allowLoopback?: boolean;
  /** The whole fetch — DNS, connect, TLS, headers, body — in ms. Default 5 000. */
  readonly timeoutMs?: number;
  /** Largest accepted document in bytes, enforced while streaming. Default 5 120 (5 KiB). */
  readonly maxBytes?: number;
  /** Cache lifetime bounds for fetched documents (ms): default 60 s … 24 h. */
  readonly minCacheMs?: number;
  readonly maxCacheMs?: number;
  /** Lifetime when the response has no cache headers (ms). Default 5 min. */
  readonly defaultCacheMs?: number;
  /** How long a failure is remembered, so a bad client_id cannot make us fetch on every request (ms). Default 5 s. */
  readonly failureCacheMs?: number;
  /** Most documents kept (oldest evicted). Default 1 000. */
  readonly maxEntries?: number;
  /** DNS resolution (tests map names to addresses); default node:dns lookup. */
  readonly lookup?: LookupFunction;
  /** Milliseconds since the epoch, for cache expiry (tests). */
  readonly now?: () => number;
}

interface CacheEntry {
  readonly expiresAt: number;
  readonly client?: ClientMetadataDocumentClient;
  readonly error?: ClientMetadataError;
}

/** Thrown by the connector for a refused address; turned into ClientMetadataError('forbidden_address'). */
class RefusedAddressError extends Error {
  override readonly name = 'RefusedAddressError';
}

export const CIMD_DEFAULTS = {
  timeoutMs: 5_000,
  maxBytes: 5 * 1024,
  minCacheMs: 60_000,
  maxCacheMs: 24 * 3_600_000,
  defaultCacheMs: 5 * 60_000,
  failureCacheMs: 5_000,
  maxEntries: 1_000,
} as const;

export class ClientMetadataFetcher implements ClientMetadataResolver {
  private readonly settings: Required<Omit<ClientMetadataFetcherOptions, 'lookup' | 'now'>>;
  private readonly now: () => number;
  private readonly agent: Agent;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inFlight = new Map<string, Promise<ClientMetadataDocumentClient>>();

  constructor(options: ClientMetadataFetcherOptions = {}) {
    this.settings = { allowLoopback: false, ...CIMD_DEFAULTS, ...definedOnly(options) } as typeof this.settings;
    this.now = options.now ?? Date.now;
    const policy = { allowLoopback: this.settings.allowLoopback };
    const resolve = options.lookup ?? (dnsLookup as LookupFunction);

    // Every address a name resolves to must pass: refusing the host when any answer is private
    // (rather than picking a public one) leaves no room for races between answers.
    const guardedLookup: LookupFunction = (hostname, lookupOptions, callback) => {
      resolve(hostname, { ...lookupOptions, all: true }, (error, addresses) => {
        if (error) return callback(error, '', 4);
        const list = (Array.isArray(addresses) ? addresses : [{ address: addresses as unknown as string, family: 4 }]) as { address: string; family: number }[];
        for (const { address } of list) {
          const why = refusedAddressReason(address, policy);
          if (why) return callback(new RefusedAddressError(`${hostname} resolves to ${why}`), '', 4);
        }
        if (list.length === 0) return callback(new RefusedAddressError(`${hostname} has no address`), '', 4);
        if (lookupOptions.all) return (callback as unknown as (e: null, a: typeof list) => void)(null, list);
        callback(null, list[0]!.address, list[0]!.family);
      });
    };
    const baseConnect = buildConnector({ lookup: guardedLookup, timeout: this.settings.timeoutMs });
    this.agent = new Agent({
      headersTimeout: this.settings.timeoutMs,
      bodyTimeout: this.settings.timeoutMs,
      connections: 8,
      connect: (connectOptions, callback) => {
        // An IP literal is never looked up, so it is judged here; every connection is judged again
        // by the address it actually reached.
        const literal = connectOptions.hostname.replace(/^\[(.*)\]$/, '$1');
        if (isIP(literal) !== 0) {
          const why = refusedAddressReason(literal, policy);
          if (why) return callback(new RefusedAddressError(why), null);
        }
        baseConnect(connectOptions, (error, socket) => {
          if (error) return callback(error, null);
          const remote = socket!.remoteAddress;
          const why = remote === undefined ? 'the connection has no remote address' : refusedAddressReason(remote, policy);
          if (why) {
            socket!.destroy();
            return callback(new RefusedAddressError(why), null);
          }
          callback(null, socket!);
        });
      },
    });
  }

  /**
   * The client described by the document at `clientId`, from the cache or fetched now. Throws
   * ClientMetadataError (any reason); a failure is remembered for `failureCacheMs`. Concurrent calls
   * for one URL share one fetch.
   */
  async resolve(clientId: string): Promise<ClientMetadataDocumentClient> {
    assertClientIdUrl(clientId);
    const cached = this.cache.get(clientId);
    if (cached && cached.expiresAt > this.now()) {
      if (cached.error) throw cached.error;
      return cached.client!;
    }
    let pending = this.inFlight.get(clientId);
    if (!pending) {
      pending = this.fetchAndCache(clientId).finally(() => this.inFlight.delete(clientId));
      this.inFlight.set(clientId, pending);
    }
    return pending;
  }

  /** Drops every cached document (config reload, tests). */
  clear(): void {
    this.cache.clear();
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private async fetchAndCache(clientId: string): Promise<ClientMetadataDocumentClient> {
    try {
      const { document, cacheMs } = await this.fetchDocument(clientId);
      const client = parseClientMetadataDocument(clientId, document);
      this.remember(clientId, { expiresAt: this.now() + cacheMs, client });
      return client;
    } catch (error) {
      const failure = error instanceof ClientMetadataError ? error : new ClientMetadataError('fetch_failed', 'the client metadata document could not be fetched', clientId, { cause: error });
      this.remember(clientId, { expiresAt: this.now() + this.settings.failureCacheMs, error: failure });
      throw failure;
    }
  }

  private remember(clientId: string, entry: CacheEntry): void {
    this.cache.delete(clientId);
    this.cache.set(clientId, entry);
    while (this.cache.size > this.settings.maxEntries) this.cache.delete(this.cache.keys().next().value!);
  }

  private async fetchDocument(clientId: string): Promise<{ document: unknown; cacheMs: number }> {
    const { timeoutMs, maxBytes } = this.settings;
    const fail = (reason: ConstructorParameters<typeof ClientMetadataError>[0], message: string, cause?: unknown) =>
      new ClientMetadataError(reason, message, clientId, cause === undefined ? undefined : { cause });
    // One deadline for the whole fetch, cleared when done so it never fires into a finished request.
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new DOMException('client metadata fetch timed out', 'TimeoutError')), timeoutMs);
    const deadline = controller.signal;
    let response: Awaited<ReturnType<typeof request>>;
    try {
      response = await request(clientId, {
        dispatcher: this.agent,
        method: 'GET',
        headers: { accept: 'application/json' },
        signal: deadline,
        maxRedirections: 0,
      });
    } catch (error) {
      clearTimeout(timer);
      throw this.transportError(error, deadline, fail);
    }
    const { statusCode, headers, body } = response;
    // Errors after we stop reading (abort, reset) must not surface as unhandled stream errors.
    body.on('error', () => {});
    try {
      if (statusCode >= 300 && statusCode < 400) throw fail('redirect', `the client metadata document URL answered ${statusCode} (redirects are not followed)`);
      if (statusCode !== 200) throw fail('bad_status', `the client metadata document URL answered ${statusCode}`);
      const contentType = String(headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (contentType !== 'application/json' && !/^application\/[a-z0-9.+-]+\+json$/.test(contentType)) {
        throw fail('wrong_content_type', `the client metadata document has Content-Type ${JSON.stringify(contentType)}, not JSON`);
      }
      const declared = Number(headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes) throw fail('too_large', `the client metadata document is larger than ${maxBytes} bytes`);
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of body) {
        size += (chunk as Buffer).length;
        if (size > maxBytes) throw fail('too_large', `the client metadata document is larger than ${maxBytes} bytes`);
        chunks.push(chunk as Buffer);
      }
      let document: unknown;
      try {
        document = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch (error) {
        throw fail('not_json', 'the client metadata document is not valid JSON', error);
      }
      if (typeof document !== 'object' || document === null || Array.isArray(document)) throw fail('not_json', 'the client metadata document is not a JSON object');
      return { document, cacheMs: cacheLifetimeMs(headers, this.now(), this.settings) };
    } catch (error) {
      throw this.transportError(error, deadline, fail);
    } finally {
      clearTimeout(timer);
      body.destroy();
    }
  }

  private transportError(error: unknown, deadline: AbortSignal, fail: (reason: 'timeout' | 'forbidden_address' | 'fetch_failed', message: string, cause?: unknown) => ClientMetadataError): ClientMetadataError {
    if (error instanceof ClientMetadataError) return error;
    const refused = findCause(error, (e): e is RefusedAddressError => e instanceof RefusedAddressError);
    if (refused) return fail('forbidden_address', `the client metadata document host is not allowed: ${refused.message}`, error);
    if (deadline.aborted || findCause(error, (e): e is Error => e instanceof Error && /Timeout/i.test(e.name))) {
      return fail('timeout', `fetching the client metadata document took longer than ${this.settings.timeoutMs} ms`, error);
    }
    return fail('fetch_failed', `the client metadata document could not be fetched: ${error instanceof Error ? error.message : String(error)}`, error);
  }
}

/**
 * RFC 9111 freshness: `s-maxage`, else `max-age` (minus `Age`), else `Expires` − `Date`, else the
 * default; `no-store`/`no-cache` count as the minimum. Clamped to [min, max]: a document that asks
 * for no caching would otherwise have us fetch on every authorization request (amplification), and
 * one asking for a year would keep a changed or withdrawn client alive too long.
 */
export function cacheLifetimeMs(
  headers: Record<string, string | string[] | undefined>,
  now: number,
  bounds: { readonly minCacheMs: number; readonly maxCacheMs: number; readonly defaultCacheMs: number },
): number {
  const cacheControl = [headers['cache-control'] ?? []].flat().join(',').toLowerCase();
  const directive = (name: string) => new RegExp(`(?:^|[,\\s])${name}\\s*=\\s*"?(\\d+)"?`).exec(cacheControl)?.[1];
  let lifetime: number;
  if (/(?:^|[,\s])(no-store|no-cache)(?:$|[,\s=])/.test(cacheControl)) lifetime = bounds.minCacheMs;
  else {
    const seconds = directive('s-maxage') ?? directive('max-age');
    if (seconds !== undefined) {
      const age = Number([headers.age ?? '0'].flat()[0]);
      lifetime = (Number(seconds) - (Number.isFinite(age) ? age : 0)) * 1000;
    } else if (headers.expires !== undefined) {
      const expires = Date.parse(String([headers.expires].flat()[0]));
      const date = headers.date === undefined ? now : Date.parse(String([headers.date].flat()[0]));
      // RFC 9111 §5.3: an invalid Expires (e.g. "0") means already expired.
      lifetime = Number.isNaN(expires) ? 0 : expires - (Number.isNaN(date) ? now : date);
    } else lifetime = bounds.defaultCacheMs;
  }
  return Math.min(bounds.maxCacheMs, Math.max(bounds.minCacheMs, lifetime));
}

function findCause<T>(error: unknown, match: (e: unknown) => e is T): T | undefined {
  for (let current = error, depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    if (match(current)) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
