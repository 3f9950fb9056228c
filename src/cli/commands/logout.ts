import { OAuthResponseError } from '../../sdk/index.js';
import { clientFor, type CliContext } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { type LoginSelector, selectLogin, type StoredLogin } from '../token-store.js';
import { networkError, secondsLeft } from '../tokens.js';

export interface LogoutOptions {
  readonly selector: LoginSelector;
}

/**
 * `devicegate logout`: revokes the refresh token at the server (RFC 7009; with ours that ends every
 * rotation of it), and the access token too while it is still valid, then deletes the local file, in
 * any case: a login the person wants gone must not stay on disk because the server is down. Exit 0
 * when revoked (or the server offers no revocation), 5 when the server was unreachable or failed,
 * 6 when it refused; the file is gone in all three cases.
 */
export async function logout(ctx: CliContext, options: LogoutOptions): Promise<ExitCode> {
  try {
    const entry = selectLogin(await ctx.store.list(), options.selector);
    return await ctx.store.withLock(entry.login, async () => {
      const login = (await ctx.store.read(entry.login))?.login ?? entry.login;
      const failure = await revoke(ctx, login);
      await ctx.store.remove(login);
      const where = `${login.issuer} (client ${login.client_id}, profile ${login.profile})`;
      if (failure) {
        ctx.stderr.write(
          `devicegate logout: ${failure.message}\nDeleted the local tokens of ${where}, but the refresh token may stay valid at the server until it expires.\n`,
        );
        return failure.exitCode;
      }
      const revoked = login.endpoints.revocation
        ? 'tokens revoked at the server and deleted locally'
        : 'deleted locally; the server offers no revocation endpoint, so its refresh token stays valid there until it expires';
      ctx.stderr.write(`Logged out of ${where}: ${revoked}.\n`);
      return ExitCode.ok;
    });
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    ctx.stderr.write(`devicegate logout: ${error.message}\n`);
    return error.exitCode;
  } finally {
    for (const warning of ctx.store.warnings) ctx.stderr.write(`devicegate: warning: ${warning}\n`);
  }
}

/** Revokes what can be revoked; the refresh token's failure is returned, the access token's ignored. */
async function revoke(ctx: CliContext, login: StoredLogin): Promise<CliError | undefined> {
  if (!login.endpoints.revocation) return undefined;
  const client = clientFor(login, await ctx.fetch());
  let failure: CliError | undefined;
  if (login.refresh_token) {
    try {
      await client.revoke({ token: login.refresh_token, token_type_hint: 'refresh_token', client_id: login.client_id });
    } catch (error) {
      failure =
        error instanceof OAuthResponseError
          ? error.status >= 500
            ? new CliError(ExitCode.network, error.error, `revocation failed: the server answered HTTP ${error.status} (${error.message})`)
            : new CliError(ExitCode.refused, error.error, `revocation refused: ${error.message}`)
          : networkError(error, login.endpoints.revocation);
    }
  }
  const left = secondsLeft(login, ctx.clock.now());
  if (!failure && (left === null || left > 0)) {
    await client
      .revoke({ token: login.access_token, token_type_hint: 'access_token', client_id: login.client_id })
      .catch(() => undefined); // a server may not revoke access tokens (RFC 7009 §2: MAY); they expire soon anyway
  }
  return failure;
}
