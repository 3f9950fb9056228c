import { clientFor, type CliContext, writeJson } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { type LoginSelector, selectLogin } from '../token-store.js';
import { DEFAULT_MIN_VALIDITY_SECONDS, ensureFresh, secondsLeft } from '../tokens.js';

export interface TokenOptions {
  readonly selector: LoginSelector;
  /** Refresh first when the access token has less than this many seconds left. */
  readonly minValidity?: number | undefined;
  readonly json: boolean;
}

/**
 * `devicegate token`: a valid access token on stdout (and nothing else), refreshed first when expired
 * or about to be, for `Authorization: Bearer $(devicegate token)`. The refresh is not cut short by
 * Ctrl-C: a rotated refresh token that is not stored would be lost, and the next use of the old one
 * would revoke the whole login as reuse. (A second Ctrl-C still exits at once.)
 */
export async function token(ctx: CliContext, options: TokenOptions): Promise<ExitCode> {
  try {
    const entries = await ctx.store.list();
    const entry = selectLogin(entries, options.selector);
    const login = await ensureFresh(entry, {
      store: ctx.store,
      clock: ctx.clock,
      minValiditySeconds: options.minValidity ?? DEFAULT_MIN_VALIDITY_SECONDS,
      refresh: async (current) =>
        clientFor(current, await ctx.fetch()).token({
          grant_type: 'refresh_token',
          refresh_token: current.refresh_token!,
          client_id: current.client_id,
        }),
    });
    if (options.json) {
      writeJson(ctx.stdout, {
        access_token: login.access_token,
        token_type: login.token_type,
        expires_at: login.expires_at,
        expires_in: secondsLeft(login, ctx.clock.now()),
        scope: login.scope ?? null,
        issuer: login.issuer,
        client_id: login.client_id,
        profile: login.profile,
      });
    } else {
      ctx.stdout.write(`${login.access_token}\n`);
    }
    return ExitCode.ok;
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    ctx.stderr.write(`devicegate token: ${error.message}\n`);
    return error.exitCode;
  } finally {
    for (const warning of ctx.store.warnings) ctx.stderr.write(`devicegate: warning: ${warning}\n`);
  }
}
