#!/usr/bin/env node
// The `devicegate` executable (the package's "bin"), which only dispatches, loading nothing it does not
// run (beyond the two tiny argument parsers, every import is dynamic):
//   devicegate serve [--config FILE]   the authorization server (main.ts, as `npm start` runs it);
//   devicegate rotate-keys             the server-side key rotation (rotate-keys.ts);
//   devicegate hash-password           the server-side secret hashing (hash-password.ts);
//   devicegate token …                 its plain forms without commander (cli/token-fast-path.ts):
//                                      an MCP host may run it before every request;
//   anything else                      the CLI (cli/main.ts, commander), which loads each command's
//                                      module only when that command runs.
// It sits above both programs, so the CLI itself never imports server code.
import { parseTokenFastPath } from './cli/token-fast-path.js';
import { parseServeArgs, SERVE_USAGE } from './serve-args.js';

const args = process.argv.slice(2);

if (args[0] === 'serve') {
  const serve = parseServeArgs(args.slice(1));
  if (serve.kind === 'help') {
    process.stdout.write(SERVE_USAGE);
  } else if (serve.kind === 'error') {
    process.stderr.write(`devicegate serve: ${serve.message}\n${SERVE_USAGE}`);
    process.exitCode = 2; // usage, like the CLI's other commands
  } else {
    if (serve.configPath !== undefined) process.env.DEVICEGATE_CONFIG = serve.configPath;
    // main.ts starts the server as it loads and keeps the process running until SIGINT/SIGTERM.
    await import('./main.js');
  }
} else if (args[0] === 'rotate-keys' && args.length === 1) {
  await import('./rotate-keys.js');
} else if (args[0] === 'hash-password' && args.length === 1) {
  await import('./hash-password.js');
} else {
  const tokenOptions = parseTokenFastPath(args, process.env);
  if (tokenOptions) {
    const { context, crash, finish } = await import('./cli/run.js');
    try {
      finish(await (await import('./cli/commands/token.js')).token(await context(), tokenOptions));
    } catch (error) {
      crash(error);
    }
  } else {
    await import('./cli/main.js');
  }
}
