import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ExitCode } from './exit-codes.js';
import { context, crash, finish } from './run.js';
import { DEFAULT_PROFILE, type LoginSelector } from './token-store.js';

// Reached from src/bin.ts for every command line but `serve` and the plain forms of `devicegate token`. Command modules
// load on use (dynamic import): no command pays for another's dependencies (the login UI's QR code and
// browser, scrypt, the server's Koa, pino and ioredis).

const program = new Command('devicegate')
  .description('OAuth 2.0 Device Authorization Grant (RFC 8628): sign in from a terminal, and server tools')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride()
  .addHelpText(
    'after',
    `
Server: devicegate serve [--config FILE] runs the authorization server (devicegate serve --help).
Exit codes: 0 ok, 1 unexpected failure, 2 usage, 3 denied, 4 code expired, 5 network or server error,
6 refused by the server, 7 login required, 130 interrupted (Ctrl-C), 143 terminated.
Tokens are stored under $DEVICEGATE_HOME, else $XDG_CONFIG_HOME/devicegate, else ~/.config/devicegate.`,
  );

program
  .command('hash-password')
  .description(
    'Read a password or client secret from stdin (first line) and print its scrypt PHC hash, for ' +
      'client_secret_hash and users[].password_hash in the config file.',
  )
  .action(() => {
    // Reached only with extra arguments: the executable (src/bin.ts) runs the server-side entry point
    // for `devicegate hash-password` itself, so the CLI never imports server code (dependency rule).
    process.stderr.write('devicegate hash-password takes no arguments (the password comes on stdin)\n');
    process.exitCode = ExitCode.usage;
  });

program
  .command('rotate-keys')
  .description(
    'Server side: publish a new access-token signing key in the key set shared through Redis (REDIS_URL, ' +
      'DEVICEGATE_SECRET, DEVICEGATE_CONFIG as the server has them). It signs after key_rotation.activation_delay; ' +
      'the old key stays published until its last token has expired.',
  )
  .action(() => {
    // Reached only with extra arguments: the executable (src/bin.ts) runs the server-side entry point
    // for `devicegate rotate-keys` itself, so the CLI never imports server code (dependency rule).
    process.stderr.write('devicegate rotate-keys takes no arguments\n');
    process.exitCode = ExitCode.usage;
  });

const issuerOption = (required: boolean) => {
  const option = new Option('--issuer <url>', 'the authorization server (its RFC 8414 issuer, exactly)').env('DEVICEGATE_ISSUER');
  return required ? option.makeOptionMandatory() : option;
};
const clientOption = (required: boolean) => {
  const option = new Option('--client-id <id>', 'the OAuth client id').env('DEVICEGATE_CLIENT_ID');
  return required ? option.makeOptionMandatory() : option;
};
const profileOption = (description: string) => new Option('--profile <name>', description).env('DEVICEGATE_PROFILE');

program
  .command('login')
  .description('Sign in with the device authorization grant: shows a code to approve in any browser, then stores the tokens')
  .addOption(issuerOption(false)) // without it, found from --resource (RFC 9728)
  .addOption(clientOption(true))
  .option('--scope <scopes>', 'space-separated scopes to ask for (default: what the server grants the client)')
  .option('--resource <uri>', 'RFC 8707 resource (audience) to ask for; repeat for several', collect)
  .addOption(profileOption(`store the tokens under this name (default: ${DEFAULT_PROFILE})`))
  .option('--json', 'machine-readable: stdout gets only JSON lines (the codes, then the outcome)')
  .option('--qr', 'show a QR code of the verification URI even when stderr is not a terminal')
  .option('--no-qr', 'never show the QR code')
  .option('--open', 'open the verification page in a browser, when one can be opened here')
  .option('--show-token', 'with --json: include the access token in the "approved" line')
  .option('--allow-http', 'allow a plain-http issuer that is not a loopback address (testing only)')
  .action(async (opts: Record<string, unknown>) => {
    finish(
      await (await import('./commands/login.js')).login(await context(), {
        issuer: opts.issuer as string | undefined,
        clientId: opts.clientId as string,
        scope: opts.scope as string | undefined,
        resource: (opts.resource as string[] | undefined) ?? [],
        profile: (opts.profile as string | undefined) ?? DEFAULT_PROFILE,
        json: opts.json === true,
        qr: opts.qr as boolean | undefined,
        open: opts.open === true,
        showToken: opts.showToken === true,
        allowHttp: opts.allowHttp === true,
      }),
    );
  });

program
  .command('token')
  .description('Print a valid access token on stdout, refreshing it first when it is expired or about to be')
  .addOption(issuerOption(false))
  .addOption(clientOption(false))
  .addOption(profileOption('the stored login to use'))
  .option('--min-validity <seconds>', 'refresh when fewer seconds than this are left', seconds, 60)
  .option('--json', 'print {"access_token", "expires_at", …} instead of the bare token')
  .action(async (opts: Record<string, unknown>) => {
    // No abort on the first Ctrl-C here: see commands/token.ts.
    finish(await (await import('./commands/token.js')).token(await context(), { selector: selector(opts), minValidity: opts.minValidity as number, json: opts.json === true }));
  });

program
  .command('status')
  .description('Show the stored logins: issuer, client, profile, subject, scopes, expiry (read locally)')
  .addOption(issuerOption(false))
  .addOption(clientOption(false))
  .addOption(profileOption('only this profile'))
  .option('--json', 'print {"logins": […]}')
  .action(async (opts: Record<string, unknown>) => {
    finish(await (await import('./commands/status.js')).status(await context(), { selector: selector(opts), json: opts.json === true }));
  });

program
  .command('logout')
  .description('Revoke the refresh token at the server (RFC 7009) and delete the stored tokens')
  .addOption(issuerOption(false))
  .addOption(clientOption(false))
  .addOption(profileOption('the stored login to remove'))
  .action(async (opts: Record<string, unknown>) => {
    finish(await (await import('./commands/logout.js')).logout(await context(), { selector: selector(opts) }));
  });

program
  .command('mcp-proxy')
  .description('Run as a stdio MCP server relaying to a remote, OAuth-protected MCP server (Streamable HTTP), signing in with the device flow')
  .argument('<url>', "the MCP server's URL")
  .addOption(clientOption(true))
  .option('--scope <scopes>', "space-separated scopes to ask for (default: the server's challenge, else what the client is granted)")
  .addOption(profileOption('the stored login to use and to store a new one under (default: one for this issuer, client and resource)'))
  .addOption(new Option('--issuer <url>', "the authorization server to use (default: the first the MCP server's RFC 9728 metadata names)").env('DEVICEGATE_ISSUER'))
  .option('--min-validity <seconds>', 'refresh the access token when fewer seconds than this are left', seconds, 60)
  .option('--allow-http', 'allow plain-http URLs that are not loopback addresses (testing only)')
  .action(async (url: string, opts: Record<string, unknown>) => {
    const { mcpProxy } = await import('./commands/mcp-proxy.js');
    finish(
      await mcpProxy(await context(), {
        serverUrl: url,
        clientId: opts.clientId as string,
        scope: opts.scope as string | undefined,
        profile: opts.profile as string | undefined,
        issuer: opts.issuer as string | undefined,
        minValidity: opts.minValidity as number,
        allowHttp: opts.allowHttp === true,
      }),
    );
  });

function selector(opts: Record<string, unknown>): LoginSelector {
  return { issuer: opts.issuer as string | undefined, clientId: opts.clientId as string | undefined, profile: opts.profile as string | undefined };
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function seconds(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 86_400) throw new InvalidArgumentError('expected whole seconds, 0 to 86400');
  return parsed;
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // --help and --version exit 0; any other parse error is a usage error (commander printed it).
    const helpOrVersion = ['commander.helpDisplayed', 'commander.help', 'commander.version'].includes(error.code);
    process.exit(helpOrVersion ? ExitCode.ok : ExitCode.usage);
  }
  crash(error);
}
