import type { TokenOptions } from './commands/token.js';

/**
 * `devicegate token` runs before every request an MCP host makes, so its start-up time is the
 * command's cost. Loading commander is a large part of it (~15 ms of CPU here, against ~60 ms for
 * Node itself), so the plain forms of `token` are parsed here, by hand, and commander is not loaded:
 *
 *   token [--issuer URL] [--client-id ID] [--profile NAME] [--min-validity SECONDS] [--json]
 *
 * each option as `--name value` or `--name=value` (the last one wins), unset ones from
 * DEVICEGATE_ISSUER / DEVICEGATE_CLIENT_ID / DEVICEGATE_PROFILE, exactly as main.ts declares them.
 * Anything else — help, an unknown or repeated-flag form, a value that starts with '-', a bad
 * number — returns null, and main.ts (commander) parses the command line and reports the problem with
 * its usual messages. So this can only ever take a command line commander would take the same way.
 */
export function parseTokenFastPath(args: readonly string[], env: NodeJS.ProcessEnv): TokenOptions | null {
  if (args[0] !== 'token') return null;
  const values: Record<string, string | undefined> = {};
  let json = false;
  for (let i = 1; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--json') {
      json = true;
      continue;
    }
    const equals = arg.indexOf('=');
    const name = equals === -1 ? arg : arg.slice(0, equals);
    if (!VALUE_OPTIONS.has(name)) return null;
    const value = equals === -1 ? args[++i] : arg.slice(equals + 1);
    if (value === undefined || value === '' || value.startsWith('-')) return null;
    values[name] = value;
  }
  const minValidity = values['--min-validity'] === undefined ? DEFAULT_MIN_VALIDITY : wholeSeconds(values['--min-validity']);
  if (minValidity === null) return null;
  return {
    selector: {
      issuer: values['--issuer'] ?? env.DEVICEGATE_ISSUER,
      clientId: values['--client-id'] ?? env.DEVICEGATE_CLIENT_ID,
      profile: values['--profile'] ?? env.DEVICEGATE_PROFILE,
    },
    minValidity,
    json,
  };
}

const VALUE_OPTIONS = new Set(['--issuer', '--client-id', '--profile', '--min-validity']);

/** main.ts's default for --min-validity. */
const DEFAULT_MIN_VALIDITY = 60;

/** The range main.ts's `seconds` accepts; outside it, commander reports the error. */
function wholeSeconds(value: string): number | null {
  const parsed = Number(value);
  return Number.isInteger(parsed) && parsed >= 0 && parsed <= 86_400 ? parsed : null;
}
