import { rotateKeys } from './admin/rotate-keys.js';

// Entry point of `devicegate rotate-keys` (and `node --import tsx src/rotate-keys.ts`): a server-side
// operation, run in the servers' environment (REDIS_URL, DEVICEGATE_SECRET, DEVICEGATE_CONFIG).
process.exitCode = await rotateKeys(process.env, process.stdout, process.stderr);
