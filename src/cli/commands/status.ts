import type { CliContext } from '../context.js';
import { writeJson } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { describeSelector, type LoginSelector, type StoredEntry } from '../token-store.js';
import { formatDuration, type OutputStream } from '../terminal.js';
import { peekClaims, secondsLeft } from '../tokens.js';

export interface StatusOptions {
  readonly selector: LoginSelector;
  readonly json: boolean;
}

/**
 * `devicegate status`: the stored logins (all, or those the selector matches), read locally. The
 * subject comes from the access token's `sub`, decoded without verifying it: for display only. Exit
 * 0 when at least one login is listed, 7 when none.
 */
export async function status(ctx: CliContext, options: StatusOptions): Promise<ExitCode> {
  const { selector } = options;
  const now = ctx.clock.now();
  const entries = (await ctx.store.list()).filter(
    ({ login }) =>
      (selector.issuer === undefined || login.issuer === selector.issuer) &&
      (selector.clientId === undefined || login.client_id === selector.clientId) &&
      (selector.profile === undefined || login.profile === selector.profile),
  );
  for (const warning of ctx.store.warnings) ctx.stderr.write(`devicegate: warning: ${warning}\n`);
  if (options.json) {
    writeJson(ctx.stdout, { logins: entries.map((entry) => describe(entry, now)) });
  } else if (entries.length === 0) {
    ctx.stderr.write(`Not logged in${describeSelector(selector)}. Run: devicegate login --issuer URL --client-id ID\n`);
  } else {
    for (const entry of entries) print(ctx.stdout, describe(entry, now), now);
  }
  return entries.length ? ExitCode.ok : ExitCode.loginRequired;
}

function describe({ login, file }: StoredEntry, now: number) {
  const left = secondsLeft(login, now);
  return {
    issuer: login.issuer,
    client_id: login.client_id,
    profile: login.profile,
    subject: peekClaims(login.access_token).sub ?? null,
    scope: login.scope ?? null,
    resource: login.resource,
    expires_at: login.expires_at,
    expired: left !== null && left <= 0,
    has_refresh_token: login.refresh_token !== undefined,
    updated_at: login.updated_at,
    file,
  };
}

function print(out: OutputStream, login: ReturnType<typeof describe>, now: number): void {
  const left = login.expires_at === null ? null : (Date.parse(login.expires_at) - now) / 1000;
  const expiry =
    left === null
      ? 'expiry unknown'
      : login.expired
        ? `expired ${formatDuration(left)} ago${login.has_refresh_token ? ' (devicegate token refreshes it)' : ''}`
        : `valid for ${formatDuration(left)} (until ${login.expires_at})`;
  out.write(
    [
      `${login.issuer}  client ${login.client_id}  profile ${login.profile}`,
      `  subject:       ${login.subject ?? '(unknown: not a JWT)'}`,
      `  scope:         ${login.scope ?? '(not stated)'}`,
      ...(login.resource.length ? [`  resource:      ${login.resource.join(' ')}`] : []),
      `  access token:  ${expiry}`,
      `  refresh token: ${login.has_refresh_token ? 'stored' : 'none'}`,
      `  file:          ${login.file}`,
      '',
    ].join('\n') + '\n',
  );
}
