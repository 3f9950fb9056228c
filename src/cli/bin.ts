#!/usr/bin/env node
// The `devicegate` command (the package's bin). The plain forms of `devicegate token` run from here
// without loading commander (see token-fast-path.ts); every other command line goes to main.ts, which
// loads each command's module only when that command runs.
import { parseTokenFastPath } from './token-fast-path.js';

const tokenOptions = parseTokenFastPath(process.argv.slice(2), process.env);
if (tokenOptions) {
  const { context, crash, finish } = await import('./run.js');
  try {
    finish(await (await import('./commands/token.js')).token(await context(), tokenOptions));
  } catch (error) {
    crash(error);
  }
} else {
  await import('./main.js');
}
