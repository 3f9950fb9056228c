import { randomUUID } from 'node:crypto';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { CliContext } from '../context.js';
import type { CodeSink } from '../device-flow.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { LoginReport } from '../login-report.js';
import { McpAuthorizer } from '../mcp/authorizer.js';
import { McpRelay, type ProxyError, ProxyErrorCode } from '../mcp/relay.js';
import { assertSecureUrl, createFetch } from '../net.js';
import { assertProfileName } from '../token-store.js';
import { describeNetworkError } from '../tokens.js';

export interface McpProxyOptions {
  readonly serverUrl: string;
  readonly clientId: string;
  readonly scope?: string | undefined;
  readonly profile?: string | undefined;
  readonly issuer?: string | undefined;
  readonly minValidity?: number | undefined;
  readonly allowHttp: boolean;
}

/**
 * Streamable HTTP requests and their SSE streams last as long as the MCP server keeps them open (a
 * long tool call, the standalone GET stream): no overall timeout, unlike the CLI's OAuth requests.
 * (2^31 - 1 ms, about 24 days, is the longest timer Node accepts.)
 */
const STREAM_TIMEOUT_MS = 2_147_483_647;

/**
 * `devicegate mcp-proxy <url>`: an MCP host starts it as a stdio server; it relays to the remote
 * server's Streamable HTTP endpoint and puts a devicegate-style login's access token on every request
 * (see mcp/authorizer.ts for how it gets one and mcp/relay.ts for the relay). stdout carries only MCP
 * messages; everything for the person (the code, one line per failure) goes to stderr.
 */
export async function mcpProxy(ctx: CliContext, options: McpProxyOptions): Promise<ExitCode> {
  try {
    validate(options);
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    ctx.stderr.write(`devicegate mcp-proxy: ${error.message}\n`);
    return error.exitCode;
  }
  const log = (line: string) => ctx.stderr.write(`devicegate mcp-proxy: ${line}\n`);
  let relay: McpRelay | undefined;
  const authorizer = new McpAuthorizer(
    ctx,
    {
      serverUrl: options.serverUrl,
      clientId: options.clientId,
      scope: options.scope,
      profile: options.profile,
      issuer: options.issuer,
      allowHttp: options.allowHttp,
      ...(options.minValidity !== undefined && { minValiditySeconds: options.minValidity }),
    },
    (abort) => codeSink(ctx, () => relay, abort, log),
  );
  const baseFetch = await createFetch(ctx.env, STREAM_TIMEOUT_MS);
  const remote = new StreamableHTTPClientTransport(new URL(options.serverUrl), { fetch: authorizedFetch(baseFetch, authorizer) });
  const host = new StdioServerTransport();
  relay = new McpRelay(host, remote, (error) => describeFailure(error, options.serverUrl), log);
  const stopped = new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
  await relay.start();
  // The SDK's stdio transport does not report the end of stdin; a host that goes away closes it.
  process.stdin.once('end', () => void relay?.close());
  await Promise.race([relay.done, stopped]);
  await relay.close();
  return ExitCode.ok;
}

function validate(options: McpProxyOptions): void {
  if (!options.clientId) throw new CliError(ExitCode.usage, 'invalid_request', '--client-id must not be empty');
  if (options.profile !== undefined) assertProfileName(options.profile);
  let url: URL;
  try {
    url = new URL(options.serverUrl);
  } catch {
    throw new CliError(ExitCode.usage, 'invalid_url', `the MCP server URL is not a URL: ${options.serverUrl}`);
  }
  if (url.hash) throw new CliError(ExitCode.usage, 'invalid_url', `the MCP server URL must not have a fragment: ${options.serverUrl}`);
  // The access token goes to this URL on every request: never in clear text off loopback.
  assertSecureUrl(options.serverUrl, 'the MCP server URL', options.allowHttp);
  if (options.issuer !== undefined) assertSecureUrl(options.issuer, 'the issuer', options.allowHttp);
}

/**
 * The fetch of the HTTP transport: the access token on every request (refreshed first when about to
 * expire); on a 401, the authorizer renews it (refresh, or a new login) and the request is sent once
 * more. The very first request goes without a token (the issuer is only known from the server's
 * 401, as the MCP authorization spec has it), so it may take two rounds; any other request one.
 */
function authorizedFetch(base: typeof globalThis.fetch, authorizer: McpAuthorizer): typeof globalThis.fetch {
  return async (input, init) => {
    const send = (token: string | null) => {
      const headers = new Headers(init?.headers);
      if (token) headers.set('Authorization', `Bearer ${token}`);
      return base(input, { ...init, headers });
    };
    let token = await authorizer.accessToken();
    let response = await send(token);
    for (let round = token === null ? 2 : 1; response.status === 401 && round > 0; round -= 1) {
      const challenge = response.headers.get('www-authenticate');
      await response.body?.cancel();
      await authorizer.unauthorized(challenge, token);
      token = await authorizer.accessToken();
      response = await send(token);
    }
    return response;
  };
}

/**
 * Where the person sees the code: always on stderr, in `devicegate login`'s words; and, when the host
 * declared `elicitation.url`, as a URL-mode elicitation with verification_uri_complete. A host that
 * declines or cancels it ends the login (the requests waiting for it get a JSON-RPC error).
 */
function codeSink(ctx: CliContext, relay: () => McpRelay | undefined, abort: (reason: CliError) => void, log: (line: string) => void): CodeSink {
  const report = new LoginReport(ctx, { json: false, qr: false, command: 'devicegate mcp-proxy' });
  let elicitationId: string | undefined;
  return {
    codes(codes, interval, expiresAt) {
      report.codes(codes, interval, expiresAt);
      const host = relay();
      if (!host?.hostTakesUrlElicitation) return;
      const id = (elicitationId = randomUUID());
      host
        .elicitUrl({
          elicitationId: id,
          url: codes.verification_uri_complete ?? codes.verification_uri,
          message: `Sign in to use this MCP server: open the page and approve the code ${codes.user_code} (check that the page shows the same code).`,
        })
        .then(
          ({ action }) => {
            if (action !== 'accept') {
              abort(new CliError(ExitCode.denied, 'elicitation_declined', `the sign-in was ${action === 'decline' ? 'declined' : 'cancelled'} in the MCP host`));
            }
          },
          (error: unknown) => log(`${error instanceof Error ? error.message : String(error)}; the code above still works`),
        );
    },
    startWaiting: (expiresAt) => report.startWaiting(expiresAt),
    pollEvent: (event, expiresAt) => report.pollEvent(event, expiresAt),
    approved: (login, tokens) => report.approved(login, tokens),
    stopWaiting() {
      report.stopWaiting();
      if (elicitationId) void relay()?.elicitationComplete(elicitationId).catch(() => undefined);
    },
  };
}

/** A message the MCP server did not take, as the JSON-RPC error the host gets and the stderr line. */
function describeFailure(error: unknown, serverUrl: string): ProxyError {
  if (error instanceof CliError) {
    return { code: ProxyErrorCode.authorization, message: `authorization failed: ${error.message}`, data: { error: error.code } };
  }
  if (error instanceof StreamableHTTPError) {
    if (error.code === 401 || error.code === 403) {
      return {
        code: ProxyErrorCode.authorization,
        message: `the MCP server refused the access token (HTTP ${error.code}): ${error.message}`,
        data: { error: 'invalid_token', status: error.code },
      };
    }
    return { code: ProxyErrorCode.upstream, message: `the MCP server at ${serverUrl} answered an error: ${error.message}`, data: { status: error.code ?? null } };
  }
  return { code: ProxyErrorCode.upstream, message: `could not reach the MCP server at ${serverUrl}: ${describeNetworkError(error)}`, data: { error: 'network_error' } };
}
