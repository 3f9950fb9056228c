#!/usr/bin/env node
// The repository's development launcher of the `devicegate` command: runs the TypeScript sources
// (src/bin.ts) through tsx, so the tests and a checkout need no build. The published package's
// bin is the compiled dist/bin.js (package.json "bin"; `npm run build`).
import { register } from 'tsx/esm/api';

register();
await import('../src/bin.ts');
