import { chooseIssuer, DiscoveryError, discoverProtectedResource } from '../../sdk/index.js';
import { browserLauncher } from '../browser.js';
import type { CliContext } from '../context.js';
import { aborted, discoverDeviceServer, requestFailure, runDeviceFlow } from '../device-flow.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { LoginReport } from '../login-report.js';
import { assertSecureUrl } from '../net.js';
import { assertProfileName } from '../token-store.js';

export interface LoginOptions {
  /** Unset: found from the first --resource's RFC 9728 metadata. */
  readonly issuer?: string | undefined;
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

/**
 * `devicegate login`: RFC 8414 discovery (after RFC 9728 discovery of the issuer when only --resource
 * is given), the RFC 8628 device flow (device-flow.ts), and the report of it (login-report.ts).
 */
export async function login(ctx: CliContext, options: LoginOptions): Promise<ExitCode> {
  const report = new LoginReport(ctx, options);
  try {
    validate(options);
    const issuer = options.issuer ?? (await issuerOfResource(ctx, options.resource[0]!, options.allowHttp));
    const server = await discoverDeviceServer(ctx, issuer, options.allowHttp);
    const { login, tokens } = await runDeviceFlow(
      ctx,
      server,
      { issuer, clientId: options.clientId, scope: options.scope, resource: options.resource, profile: options.profile },
      {
        codes: async (codes, interval, expiresAt) => {
          report.codes(codes, interval, expiresAt);
          if (options.open) await openBrowser(ctx, report, codes.verification_uri_complete ?? codes.verification_uri);
        },
        startWaiting: (expiresAt) => report.startWaiting(expiresAt),
        pollEvent: (event, expiresAt) => report.pollEvent(event, expiresAt),
        stopWaiting: () => report.stopWaiting(),
      },
    );
    report.approved(login, tokens);
    return ExitCode.ok;
  } catch (error) {
    // Every failure ends with an outcome: an MCP host reading --json must never be left without one.
    const failure =
      error instanceof CliError
        ? error
        : ctx.signal.aborted
          ? aborted(ctx.signal)
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
  if (options.issuer === undefined) {
    if (!options.resource.length) throw new CliError(ExitCode.usage, 'invalid_request', 'give --issuer, or --resource to find the issuer from the resource');
    assertSecureUrl(options.resource[0]!, 'the resource', options.allowHttp);
  } else {
    assertSecureUrl(options.issuer, 'the issuer', options.allowHttp);
  }
}

/** RFC 9728: the resource's protected resource metadata names its authorization server. */
export async function issuerOfResource(ctx: CliContext, resource: string, allowHttp: boolean, signal: AbortSignal = ctx.signal): Promise<string> {
  try {
    const { metadata } = await discoverProtectedResource(resource, { fetch: await ctx.fetch(), signal });
    const issuer = chooseIssuer(metadata);
    assertSecureUrl(issuer, "the resource's authorization server", allowHttp, ExitCode.network);
    return issuer;
  } catch (error) {
    if (error instanceof DiscoveryError) {
      throw new CliError(ExitCode.network, error.reason, `resource discovery failed: ${error.message}`, { cause: error });
    }
    throw requestFailure(signal, error, resource, 'resource discovery');
  }
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
