import {
  DEVICE_CODE_GRANT_TYPE,
  type DeviceAuthorizationResponse,
  type DiscoveredServer,
  DiscoveryError,
  discover,
  EndpointNotAdvertisedError,
  OAuthResponseError,
  type TokenResponse,
} from '../../sdk/index.js';
import { browserLauncher } from '../browser.js';
import { clientFor, type CliContext, writeJson } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { assertSecureUrl } from '../net.js';
import { DEFAULT_INTERVAL, type PollEvent, pollForToken } from '../poller.js';
import { renderQr } from '../qr.js';
import { bold, formatClock, formatDuration, Spinner } from '../terminal.js';
import { assertProfileName, type StoredLogin } from '../token-store.js';
import { describeNetworkError, expiryOf, networkError, peekClaims } from '../tokens.js';

export interface LoginOptions {
  readonly issuer: string;
  readonly clientId: string;
  readonly scope?: string | undefined;
  readonly resource: readonly string[];
  readonly profile: string;
  readonly json: boolean;
  /** true: always show the QR code; false: never; undefined: when stderr is a terminal (and not --json). */
  readonly qr?: boolean | undefined;
  readonly open: boolean;
  /** --show-token: put the access token into the JSON `approved` line. */
  readonly showToken: boolean;
  readonly allowHttp: boolean;
}

/** `devicegate login`: RFC 8414 discovery, RFC 8628 device authorization, polling, storing the tokens. */
export async function login(ctx: CliContext, options: LoginOptions): Promise<ExitCode> {
  const report = new LoginReport(ctx, options);
  try {
    validate(options);
    const fetch = await ctx.fetch();
    const server = await discoverServer(ctx, options, fetch);
    const { metadata, client } = server;
    const deviceEndpoint = metadata.device_authorization_endpoint;

    const requestedAt = ctx.clock.now();
    let codes: DeviceAuthorizationResponse;
    try {
      codes = await client.deviceAuthorization(
        { client_id: options.clientId, scope: options.scope, resource: options.resource.length ? [...options.resource] : undefined },
        { signal: ctx.signal },
      );
    } catch (error) {
      throw requestFailure(ctx, error, deviceEndpoint ?? options.issuer, 'the device authorization request');
    }
    assertCodes(codes, deviceEndpoint ?? options.issuer);
    const interval = codes.interval ?? DEFAULT_INTERVAL;
    const expiresAt = requestedAt + codes.expires_in * 1000;
    report.codes(codes, interval, expiresAt);
    if (options.open) await openBrowser(ctx, report, codes.verification_uri_complete ?? codes.verification_uri);

    report.startWaiting(expiresAt);
    let tokenRequestedAt = requestedAt; // the access token's expires_in counts from the poll that got it
    const outcome = await pollForToken({
      requestToken: (signal) => {
        tokenRequestedAt = ctx.clock.now();
        return client.token({ grant_type: DEVICE_CODE_GRANT_TYPE, device_code: codes.device_code, client_id: options.clientId }, { signal });
      },
      interval,
      expiresAt,
      clock: ctx.clock,
      sleep: ctx.sleep,
      signal: ctx.signal,
      onEvent: (event) => report.pollEvent(event, expiresAt),
    });
    report.stopWaiting();

    switch (outcome.kind) {
      case 'interrupted':
        throw interrupted(ctx);
      case 'denied':
        throw new CliError(ExitCode.denied, 'access_denied', `the request was denied${outcome.description ? ` (${outcome.description})` : ''}`);
      case 'expired':
        throw new CliError(
          ExitCode.expired,
          'expired_token',
          `the code ${codes.user_code} expired after ${formatDuration(codes.expires_in)} without approval: run devicegate login again`,
        );
      case 'unreachable':
        throw new CliError(
          ExitCode.network,
          'network_error',
          `the code expired while ${metadata.token_endpoint} could not be reached (last error: ${failureReason(outcome.cause)})`,
          { cause: outcome.cause },
        );
      case 'refused':
        throw new CliError(ExitCode.refused, outcome.error.error, `the token endpoint refused the device code: ${outcome.error.message}`);
      case 'approved':
        break;
    }
    const tokens = outcome.tokens;
    if (!tokens || typeof tokens.access_token !== 'string' || !tokens.access_token) {
      throw new CliError(ExitCode.network, 'invalid_response', `${metadata.token_endpoint} answered without an access_token`);
    }
    const stored = await store(ctx, options, server, tokens, tokenRequestedAt);
    report.approved(stored, tokens);
    return ExitCode.ok;
  } catch (error) {
    // Every failure ends with an outcome: an MCP host reading --json must never be left without one.
    const failure =
      error instanceof CliError
        ? error
        : ctx.signal.aborted
          ? interrupted(ctx)
          : new CliError(ExitCode.failure, 'internal_error', error instanceof Error ? error.message : String(error), { cause: error });
    report.failed(failure);
    return failure.exitCode;
  }
}

function validate(options: LoginOptions): void {
  assertProfileName(options.profile);
  if (!options.clientId) throw new CliError(ExitCode.usage, 'invalid_request', '--client-id must not be empty');
  for (const resource of options.resource) {
    // RFC 8707 §2: an absolute URI without a fragment.
    let url: URL | undefined;
    try {
      url = new URL(resource);
    } catch {
      url = undefined;
    }
    if (!url || url.hash || resource.includes('#')) {
      throw new CliError(ExitCode.usage, 'invalid_target', `--resource must be an absolute URI without a fragment: ${resource}`);
    }
  }
  assertSecureUrl(options.issuer, 'the issuer', options.allowHttp);
}

async function discoverServer(ctx: CliContext, options: LoginOptions, fetch: typeof globalThis.fetch): Promise<DiscoveredServer> {
  let server: DiscoveredServer;
  try {
    server = await discover(options.issuer, { fetch, signal: ctx.signal });
  } catch (error) {
    if (error instanceof DiscoveryError) {
      const exitCode = error.reason === 'invalid_issuer' ? ExitCode.usage : ExitCode.network;
      throw new CliError(exitCode, error.reason, `discovery failed: ${error.message}`, { cause: error });
    }
    throw requestFailure(ctx, error, options.issuer, 'discovery');
  }
  const { metadata } = server;
  if (!metadata.device_authorization_endpoint) {
    throw new CliError(
      ExitCode.refused,
      'unsupported_grant_type',
      `${options.issuer} advertises no device_authorization_endpoint: it does not offer the device authorization grant (RFC 8628)`,
    );
  }
  // The metadata could point the codes and tokens at a clear-text URL; the same rule as for the issuer.
  for (const [name, url] of [
    ['device_authorization_endpoint', metadata.device_authorization_endpoint],
    ['token_endpoint', metadata.token_endpoint],
    ['revocation_endpoint', metadata.revocation_endpoint],
  ] as const) {
    if (url) assertSecureUrl(url, `the metadata's ${name}`, options.allowHttp, ExitCode.network);
  }
  return server;
}

/** A failed SDK call as a CliError: interrupted, the server's refusal (4xx), or a network/server error. */
function requestFailure(ctx: CliContext, error: unknown, url: string, what: string): CliError {
  if (ctx.signal.aborted) return interrupted(ctx);
  if (error instanceof CliError) return error;
  if (error instanceof EndpointNotAdvertisedError) return new CliError(ExitCode.refused, 'unsupported', error.message);
  if (error instanceof OAuthResponseError) {
    if (error.status >= 500 || error.status === 429) {
      return new CliError(ExitCode.network, error.error, `${what} failed: ${url} answered HTTP ${error.status} (${error.message})`, { cause: error });
    }
    return new CliError(ExitCode.refused, error.error, `${what} was refused: ${error.message}`, { cause: error });
  }
  if (error instanceof SyntaxError) {
    return new CliError(ExitCode.network, 'invalid_response', `${what} failed: ${url} did not answer JSON`, { cause: error });
  }
  return networkError(error, url);
}

/** The first Ctrl-C or SIGTERM: the context's signal carries which (see main.ts). */
/** Why a poll failed, for a message: the server's status and error, or the network error's reason. */
function failureReason(cause: unknown): string {
  return cause instanceof OAuthResponseError ? `HTTP ${cause.status} ${cause.message}` : describeNetworkError(cause);
}

function interrupted(ctx: CliContext): CliError {
  const reason: unknown = ctx.signal.reason;
  const exitCode = reason instanceof CliError ? reason.exitCode : ExitCode.interrupted;
  const what = exitCode === ExitCode.terminated ? 'terminated (SIGTERM)' : 'interrupted (Ctrl-C)';
  return new CliError(exitCode, 'interrupted', `${what}; nothing was stored`);
}

/** openapi-fetch does not validate responses: another server's answer is checked before it is shown. */
function assertCodes(codes: DeviceAuthorizationResponse, url: string): void {
  const ok =
    codes &&
    typeof codes.device_code === 'string' &&
    typeof codes.user_code === 'string' &&
    typeof codes.verification_uri === 'string' &&
    typeof codes.expires_in === 'number' &&
    codes.expires_in > 0 &&
    (codes.interval === undefined || (typeof codes.interval === 'number' && codes.interval >= 0)) &&
    (codes.verification_uri_complete === undefined || typeof codes.verification_uri_complete === 'string');
  if (!ok) throw new CliError(ExitCode.network, 'invalid_response', `${url} answered an invalid device authorization response`);
}

async function store(
  ctx: CliContext,
  options: LoginOptions,
  server: DiscoveredServer,
  tokens: TokenResponse,
  requestedAt: number,
): Promise<StoredLogin> {
  const now = new Date(ctx.clock.now()).toISOString();
  const { metadata } = server;
  const login: StoredLogin = {
    version: 1,
    issuer: options.issuer,
    client_id: options.clientId,
    profile: options.profile,
    endpoints: {
      token: metadata.token_endpoint,
      revocation: metadata.revocation_endpoint ?? null,
      jwks_uri: metadata.jwks_uri ?? null,
    },
    token_type: tokens.token_type,
    access_token: tokens.access_token,
    expires_at: expiryOf(tokens, requestedAt),
    ...(tokens.refresh_token !== undefined && { refresh_token: tokens.refresh_token }),
    ...((tokens.scope ?? options.scope) !== undefined && { scope: tokens.scope ?? options.scope }),
    resource: [...options.resource],
    created_at: now,
    updated_at: now,
  };
  const previous = await ctx.store.withLock(login, async () => {
    const before = await ctx.store.read(login);
    await ctx.store.write(login);
    return before?.login;
  });
  // A login replaced by a new one: its refresh token is of no more use to anyone; best effort.
  if (previous?.refresh_token && previous.refresh_token !== login.refresh_token && previous.endpoints.revocation) {
    const fetch = await ctx.fetch();
    await clientFor(previous, fetch)
      .revoke({ token: previous.refresh_token, token_type_hint: 'refresh_token', client_id: previous.client_id }, { signal: AbortSignal.timeout(5000) })
      .catch(() => undefined);
  }
  return login;
}

async function openBrowser(ctx: CliContext, report: LoginReport, url: string): Promise<void> {
  const launcher = browserLauncher(url, { platform: ctx.platform, env: ctx.env });
  if ('unusable' in launcher) {
    report.note(`Not opening a browser: ${launcher.unusable}. Open the URL above on any device.`);
    return;
  }
  const launched = await ctx.launchBrowser(launcher);
  report.note(launched ? 'Opened your browser; confirm the code there.' : `Could not start ${launcher.command}; open the URL above on any device.`);
}

/**
 * Everything `login` shows. --json: stdout gets exactly two JSON lines (the codes, then the outcome)
 * and stderr stays quiet. Otherwise stdout stays empty and stderr gets the human text: the URI and the
 * code set apart, a QR code on a terminal, a spinner with the time left (on a terminal) or a few plain
 * status lines (in a log).
 */
class LoginReport {
  private readonly tty: boolean;
  private spinner: Spinner | undefined;
  private spinnerTimer: NodeJS.Timeout | undefined;
  private status = 'Waiting for approval';

  constructor(
    private readonly ctx: CliContext,
    private readonly options: LoginOptions,
  ) {
    this.tty = ctx.stderr.isTTY === true;
  }

  private err(text: string): void {
    this.ctx.stderr.write(text);
  }

  note(text: string): void {
    if (!this.options.json) this.err(`${text}\n`);
  }

  codes(codes: DeviceAuthorizationResponse, interval: number, expiresAt: number): void {
    const complete = codes.verification_uri_complete ?? null;
    if (this.options.json) {
      writeJson(this.ctx.stdout, {
        event: 'device_authorization',
        user_code: codes.user_code,
        verification_uri: codes.verification_uri,
        verification_uri_complete: complete,
        expires_in: codes.expires_in,
        interval,
        expires_at: new Date(expiresAt).toISOString(),
      });
    } else {
      this.err(
        [
          '',
          'To sign in, open this page in a browser on any device:',
          '',
          `    ${bold(codes.verification_uri, this.tty)}`,
          '',
          'and enter the code:',
          '',
          `    ${bold(codes.user_code, this.tty)}`,
          '',
          '',
        ].join('\n'),
      );
    }
    const showQr = this.options.qr ?? (this.tty && !this.options.json);
    if (showQr) {
      const target = complete ?? codes.verification_uri;
      this.err(`${complete ? 'Or scan this to open the page with the code filled in:' : 'Or scan this to open the page:'}\n\n`);
      this.err(renderQr(target));
      this.err(`\n${complete ?? ''}${complete ? '\n\n' : ''}`);
    }
  }

  startWaiting(expiresAt: number): void {
    if (this.options.json) return;
    if (!this.tty) {
      this.err(`Waiting for approval (the code expires in ${formatDuration((expiresAt - this.ctx.clock.now()) / 1000)})…\n`);
      return;
    }
    this.spinner = new Spinner(this.ctx.stderr);
    const text = () => `${this.status}… ${formatClock((expiresAt - this.ctx.clock.now()) / 1000)} left (Ctrl-C to cancel)`;
    this.spinner.start(text());
    this.spinnerTimer = setInterval(() => this.spinner?.update(text()), 250);
    this.spinnerTimer.unref();
  }

  pollEvent(event: PollEvent, expiresAt: number): void {
    if (this.options.json) return;
    let line: string | undefined;
    if (event.type === 'slow_down') {
      this.status = `Waiting for approval (server asked to slow down: polling every ${event.interval} s)`;
      line = `The server asked to slow down; polling every ${event.interval} s.`;
    } else if (event.type === 'retry') {
      this.status = `Server unreachable, retrying in ${Math.round(event.delayMs / 1000)} s`;
      line = `Could not reach the token endpoint (${failureReason(event.cause)}); retrying in ${Math.round(event.delayMs / 1000)} s, until the code expires in ${formatDuration((expiresAt - this.ctx.clock.now()) / 1000)}.`;
    } else if (event.type === 'pending') {
      this.status = 'Waiting for approval';
    }
    if (line && !this.tty) this.err(`${line}\n`);
  }

  stopWaiting(): void {
    if (this.spinnerTimer) clearInterval(this.spinnerTimer);
    this.spinner?.stop();
    this.spinner = undefined;
  }

  approved(login: StoredLogin, tokens: TokenResponse): void {
    const { sub } = peekClaims(login.access_token);
    if (this.options.json) {
      writeJson(this.ctx.stdout, {
        event: 'approved',
        issuer: login.issuer,
        client_id: login.client_id,
        profile: login.profile,
        subject: sub ?? null,
        scope: login.scope ?? null,
        resource: login.resource,
        token_type: login.token_type,
        expires_in: typeof tokens.expires_in === 'number' ? tokens.expires_in : null,
        expires_at: login.expires_at,
        has_refresh_token: login.refresh_token !== undefined,
        ...(this.options.showToken && { access_token: login.access_token }),
      });
      return;
    }
    const who = sub ? ` as ${bold(sub, this.tty)}` : '';
    const profile = login.profile === 'default' ? '' : `, profile ${login.profile}`;
    this.err(`${this.tty ? '✔ ' : ''}Logged in to ${login.issuer}${who} (client ${login.client_id}${profile}).\n`);
    this.err(
      login.refresh_token
        ? 'Get a fresh access token any time with: devicegate token\n'
        : 'The server issued no refresh token: run devicegate login again when the access token expires.\n',
    );
  }

  failed(error: CliError): void {
    this.stopWaiting();
    if (this.options.json) {
      writeJson(this.ctx.stdout, { event: 'error', error: error.code, error_description: error.message, exit_code: error.exitCode });
      return;
    }
    if (error.code === 'interrupted') this.err('\n');
    this.err(`devicegate login: ${error.message}\n`);
  }
}
