import type { DeviceAuthorizationResponse, TokenResponse } from '../sdk/index.js';
import { type CliContext, writeJson } from './context.js';
import type { CodeSink } from './device-flow.js';
import { failureReason } from './device-flow.js';
import type { CliError } from './exit-codes.js';
import type { PollEvent } from './poller.js';
import { renderQr } from './qr.js';
import { bold, formatClock, formatDuration, Spinner } from './terminal.js';
import type { StoredLogin } from './token-store.js';
import { peekClaims } from './tokens.js';

export interface LoginReportOptions {
  /** stdout gets JSON lines (the codes, then the outcome) and stderr stays quiet. */
  readonly json: boolean;
  /** true: always show the QR code; false: never; undefined: when stderr is a terminal (and not --json). */
  readonly qr?: boolean | undefined;
  /** --show-token: put the access token into the JSON `approved` line. */
  readonly showToken?: boolean;
  /** Prefix of the failure line, e.g. "devicegate login". */
  readonly command?: string;
}

/**
 * Everything `login` shows. --json: stdout gets exactly two JSON lines (the codes, then the outcome)
 * and stderr stays quiet. Otherwise stdout stays empty and stderr gets the human text: the URI and the
 * code set apart, a QR code on a terminal, a spinner with the time left (on a terminal) or a few plain
 * status lines (in a log).
 */
export class LoginReport implements CodeSink {
  private readonly tty: boolean;
  private spinner: Spinner | undefined;
  private spinnerTimer: NodeJS.Timeout | undefined;
  private status = 'Waiting for approval';

  constructor(
    private readonly ctx: CliContext,
    private readonly options: LoginReportOptions,
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
    this.err(`${this.options.command ?? 'devicegate login'}: ${error.message}\n`);
  }
}
