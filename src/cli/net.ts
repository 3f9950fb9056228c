import { CliError, ExitCode } from './exit-codes.js';

/** Each HTTP request gives up after this long (then it counts as a network error). */
export const DEFAULT_HTTP_TIMEOUT_MS = 30_000;

const PROXY_VARIABLES = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'] as const;

/**
 * The fetch the CLI hands to the SDK: Node's own fetch with a per-request timeout and, when a proxy
 * variable is set, undici's EnvHttpProxyAgent (HTTPS_PROXY / HTTP_PROXY / NO_PROXY, upper or lower
 * case), because Node 20's fetch ignores those variables. undici is loaded only then. Custom CAs come
 * from NODE_EXTRA_CA_CERTS, which Node reads at start-up for every TLS connection, proxied or not.
 */
export async function createFetch(
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = DEFAULT_HTTP_TIMEOUT_MS,
): Promise<typeof globalThis.fetch> {
  let dispatcher: unknown;
  if (PROXY_VARIABLES.some((name) => env[name])) {
    const { EnvHttpProxyAgent } = await import('undici');
    // undici 6 flags the class experimental with a one-time process warning; it would land in the
    // middle of our stderr (or an MCP host's log), so that one warning is dropped.
    const emitWarning = process.emitWarning;
    process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
      const code = typeof rest[0] === 'object' && rest[0] !== null ? (rest[0] as { code?: unknown }).code : rest[1];
      if (code === 'UNDICI-EHPA') return;
      (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
    }) as typeof process.emitWarning;
    try {
      dispatcher = new EnvHttpProxyAgent({
        httpProxy: env.http_proxy ?? env.HTTP_PROXY,
        httpsProxy: env.https_proxy ?? env.HTTPS_PROXY ?? env.http_proxy ?? env.HTTP_PROXY,
        noProxy: env.no_proxy ?? env.NO_PROXY,
      });
    } finally {
      process.emitWarning = emitWarning;
    }
  }
  return (input, init) => {
    const timeout = AbortSignal.timeout(timeoutMs);
    const requestSignal = init?.signal ?? (input instanceof Request ? input.signal : undefined);
    const signal = requestSignal ? AbortSignal.any([requestSignal, timeout]) : timeout;
    // `dispatcher` is undici's extension of RequestInit, honoured by Node's fetch.
    return globalThis.fetch(input, { ...init, signal, ...(dispatcher !== undefined && { dispatcher }) } as RequestInit);
  };
}

/** Loopback hosts, where plain http cannot be intercepted on the network. */
export function isLoopback(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * Tokens and codes must not cross the network in clear text: an http URL is refused unless it is a
 * loopback address or the person passed --allow-http.
 */
export function assertSecureUrl(url: string, what: string, allowHttp: boolean, exitCode: ExitCode = ExitCode.usage): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CliError(exitCode, 'invalid_url', `${what} is not a URL: ${url}`);
  }
  if (parsed.protocol === 'https:') return;
  if (parsed.protocol === 'http:' && (allowHttp || isLoopback(parsed))) return;
  throw new CliError(
    exitCode,
    'insecure_url',
    parsed.protocol === 'http:' ? `${what} uses plain http: ${url} (only loopback addresses may; pass --allow-http to override)` : `${what} must be an https URL: ${url}`,
  );
}
