/** `devicegate serve`'s command line: one option, parsed here so the server needs no CLI library. */
export const SERVE_USAGE = `Usage: devicegate serve [--config FILE]

Run the authorization server in this process; SIGINT or SIGTERM drain it and exit.

Options:
  --config FILE  the config file (default: $DEVICEGATE_CONFIG, else the bundled example)
  -h, --help     display help for command

Settings come from the environment: PORT, HOST, ISSUER, REDIS_URL, DEVICEGATE_CONFIG,
DEVICEGATE_DATA_DIR, TRUST_PROXY, LOG_LEVEL (README, "Configuration").
`;

export type ServeArgs =
  | { readonly kind: 'run'; readonly configPath?: string }
  | { readonly kind: 'help' }
  | { readonly kind: 'error'; readonly message: string };

export function parseServeArgs(args: readonly string[]): ServeArgs {
  let configPath: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '-h' || arg === '--help') return { kind: 'help' };
    if (arg === '--config' || arg.startsWith('--config=')) {
      const value = arg === '--config' ? args[++i] : arg.slice('--config='.length);
      if (value === undefined || value === '') return { kind: 'error', message: "option '--config <file>' argument missing" };
      configPath = value; // the last one wins
      continue;
    }
    return { kind: 'error', message: arg.startsWith('-') ? `unknown option '${arg}'` : `unexpected argument '${arg}'` };
  }
  return configPath === undefined ? { kind: 'run' } : { kind: 'run', configPath };
}
