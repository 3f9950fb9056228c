/**
 * Exit codes of the `devicegate` commands (documented in the README). Scripts and MCP hosts branch on
 * them: 7 means "run `devicegate login`", 3 and 4 mean the person said no or was too late.
 */
export const ExitCode = {
  ok: 0,
  /** An unexpected failure (a bug, an unreadable or unwritable token file). */
  failure: 1,
  /** Bad or missing options, an ambiguous selection, an issuer URL that is not allowed. */
  usage: 2,
  /** login: the person denied the request (`access_denied`). */
  denied: 3,
  /** login: the code expired before anyone approved it (`expired_token` or `expires_in` passed). */
  expired: 4,
  /** The server could not be reached or answered with a server error, bad JSON or mismatched metadata. */
  network: 5,
  /** The server refused the request (`invalid_client`, `invalid_scope`, `invalid_target`, …). */
  refused: 6,
  /** token, status, logout: no stored login matches, or the refresh token was rejected: log in again. */
  loginRequired: 7,
  /** Ctrl-C (SIGINT), as shells report it (128 + 2). */
  interrupted: 130,
  /** SIGTERM (128 + 15). */
  terminated: 143,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * A failure the CLI reports and exits on: the exit code, a one-line human message and a machine
 * code (an OAuth error code where the server gave one, else a CLI one such as `network_error`).
 */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    readonly exitCode: ExitCode,
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
