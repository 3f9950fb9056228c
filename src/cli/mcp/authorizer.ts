import { chooseIssuer, DiscoveryError, discoverProtectedResource, parseBearerChallenge } from '../../sdk/index.js';
import { clientFor, type CliContext } from '../context.js';
import { type CodeSink, discoverDeviceServer, requestFailure, runDeviceFlow } from '../device-flow.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { assertSecureUrl } from '../net.js';
import { DEFAULT_PROFILE, type StoredEntry, type StoredLogin } from '../token-store.js';
import { DEFAULT_MIN_VALIDITY_SECONDS, ensureFresh } from '../tokens.js';

export interface AuthorizerOptions {
  /** The MCP server's URL (the protected resource). */
  readonly serverUrl: string;
  readonly clientId: string;
  readonly scope?: string | undefined;
  /** Where the proxy stores a new login; unset: `default`, unless that holds a login for another resource. */
  readonly profile?: string | undefined;
  /** Unset: the first of the resource metadata's authorization_servers. */
  readonly issuer?: string | undefined;
  readonly allowHttp: boolean;
  readonly minValiditySeconds?: number;
}

/** What the person sees during a device flow, given the flow's codes; may abort it through `abort`. */
export type SinkFactory = (abort: (reason: CliError) => void) => CodeSink;

interface Discovered {
  readonly issuer: string;
  /** The RFC 8707 resource indicator: the protected resource metadata's `resource`. */
  readonly resource: string;
  /** The `scope` of the server's challenge, asked for when --scope is not given. */
  readonly challengeScope: string | undefined;
}

/**
 * The access token for one MCP server, as the MCP authorization specification describes the client's
 * side: on a 401, RFC 9728 discovery (the challenge's `resource_metadata`, else the well-known URL)
 * gives the issuer and the resource identifier; a stored login for that issuer, client and resource
 * is used and refreshed (under the token file's lock, so `devicegate token` and other proxies share it);
 * without one, or when its refresh token is rejected, the device flow runs. One flow at a time: every
 * request that meets a 401 meanwhile waits for the same outcome.
 */
export class McpAuthorizer {
  private discovered: Discovered | undefined;
  private entry: StoredEntry | undefined;
  private pending: Promise<void> | undefined;

  constructor(
    private readonly ctx: CliContext,
    private readonly options: AuthorizerOptions,
    private readonly sink: SinkFactory,
  ) {}

  /** The token for the next request; refreshed first when it is about to expire. null before the first 401. */
  async accessToken(): Promise<string | null> {
    if (this.pending) await this.pending;
    if (!this.entry) return null;
    try {
      const login = await this.fresh(this.entry);
      return login.access_token;
    } catch (error) {
      // The refresh token was rejected: let the server's 401 lead to a new login.
      if (error instanceof CliError && error.exitCode === ExitCode.loginRequired) return this.entry.login.access_token;
      throw error;
    }
  }

  /**
   * The server answered 401 to a request carrying `rejected` (or no token). Afterwards a retry may
   * succeed; throws a CliError when no token can be had.
   */
  async unauthorized(wwwAuthenticate: string | null, rejected: string | null): Promise<void> {
    // Concurrent 401s share one discovery, refresh or device flow.
    this.pending ??= this.authorize(wwwAuthenticate, rejected).finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** The login in use, for status messages. */
  get login(): StoredLogin | undefined {
    return this.entry?.login;
  }

  private async authorize(wwwAuthenticate: string | null, rejected: string | null): Promise<void> {
    const discovered = (this.discovered ??= await this.discover(wwwAuthenticate));
    if (this.entry && this.entry.login.access_token !== rejected) return; // someone else already renewed it
    this.entry ??= await this.findStored(discovered);
    if (this.entry) {
      try {
        await this.fresh(this.entry, rejected ?? undefined);
        return;
      } catch (error) {
        if (!(error instanceof CliError && error.exitCode === ExitCode.loginRequired)) throw error;
        this.ctx.stderr.write(`devicegate mcp-proxy: ${error.message.replace(/: run devicegate login.*$/, '')}; signing in again\n`);
      }
    }
    await this.deviceFlow(discovered);
  }

  private async fresh(entry: StoredEntry, rejected?: string): Promise<StoredLogin> {
    const login = await ensureFresh(entry, {
      store: this.ctx.store,
      clock: this.ctx.clock,
      minValiditySeconds: this.options.minValiditySeconds ?? DEFAULT_MIN_VALIDITY_SECONDS,
      ...(rejected !== undefined && { rejectedAccessToken: rejected }),
      refresh: async (current) =>
        clientFor(current, await this.ctx.fetch()).token({ grant_type: 'refresh_token', refresh_token: current.refresh_token!, client_id: current.client_id }),
    });
    this.entry = { login, file: entry.file };
    return login;
  }

  private async discover(wwwAuthenticate: string | null): Promise<Discovered> {
    const { serverUrl, allowHttp } = this.options;
    try {
      const { metadata } = await discoverProtectedResource(serverUrl, { fetch: await this.ctx.fetch(), signal: this.ctx.signal, wwwAuthenticate });
      const issuer = chooseIssuer(metadata, this.options.issuer);
      assertSecureUrl(issuer, "the MCP server's authorization server", allowHttp, ExitCode.network);
      return { issuer, resource: metadata.resource, challengeScope: parseBearerChallenge(wwwAuthenticate)?.scope };
    } catch (error) {
      if (error instanceof DiscoveryError) {
        throw new CliError(ExitCode.network, error.reason, `authorization discovery for ${serverUrl} failed: ${error.message}`, { cause: error });
      }
      throw requestFailure(this.ctx.signal, error, serverUrl, 'authorization discovery');
    }
  }

  /** A stored login for this issuer and client whose tokens are for this resource; the named profile, or `default` first. */
  private async findStored({ issuer, resource }: Discovered): Promise<StoredEntry | undefined> {
    const matches = (await this.ctx.store.list()).filter(
      ({ login }) =>
        login.issuer === issuer &&
        login.client_id === this.options.clientId &&
        (this.options.profile === undefined || login.profile === this.options.profile) &&
        login.resource.includes(resource),
    );
    return matches.find(({ login }) => login.profile === DEFAULT_PROFILE) ?? matches[0];
  }

  /** `--profile`, else `default` unless that profile holds a login for another resource, else one named after the resource. */
  private async profileForNewLogin({ issuer, resource }: Discovered): Promise<string> {
    if (this.options.profile !== undefined) return this.options.profile;
    const existing = await this.ctx.store.read({ issuer, client_id: this.options.clientId, profile: DEFAULT_PROFILE });
    if (!existing || existing.login.resource.includes(resource)) return DEFAULT_PROFILE;
    const url = new URL(resource);
    return `mcp-${`${url.host}${url.pathname}`.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/-+$/, '')}`.slice(0, 64);
  }

  private async deviceFlow(discovered: Discovered): Promise<void> {
    const { issuer, resource, challengeScope } = discovered;
    const stop = new AbortController();
    const signal = AbortSignal.any([this.ctx.signal, stop.signal]);
    const server = await discoverDeviceServer(this.ctx, issuer, this.options.allowHttp, signal);
    const profile = await this.profileForNewLogin(discovered);
    const { login } = await runDeviceFlow(
      this.ctx,
      server,
      { issuer, clientId: this.options.clientId, scope: this.options.scope ?? challengeScope, resource: [resource], profile },
      this.sink((reason) => stop.abort(reason)),
      signal,
    );
    this.entry = { login, file: this.ctx.store.fileFor(login) };
  }
}
