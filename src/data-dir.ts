import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from './config.js';

const PRIVATE_DIR_MODE = 0o700;
const PRIVATE_FILE_MODE = 0o600;

/**
 * Returns the path of a secret file in the data directory, creating it with `create()`'s content on
 * first start (signing keys, the session key).
 *
 * File modes. The directory is created 0700. An existing one is not chmod-ed (it may be shared, or
 * /tmp), but one that group or others can write to is refused: they could plant or swap the file
 * and then forge tokens or sessions. Readable-only is fine, since the file itself is 0600. A file
 * with looser bits (a copy or restore under a loose umask) is tightened to 0600 rather than refused,
 * so it does not keep the server down.
 */
export async function ensurePrivateFile(dataDir: string, fileName: string, create: () => Promise<string>): Promise<string> {
  const path = join(dataDir, fileName);
  let dirMode: number;
  try {
    await mkdir(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE });
    dirMode = (await stat(dataDir)).mode & 0o7777;
  } catch (error) {
    throw new ConfigError(`DEVICEGATE_DATA_DIR ${dataDir}: cannot create (${errorCode(error)})`);
  }
  if ((dirMode & 0o022) !== 0) {
    throw new ConfigError(
      `DEVICEGATE_DATA_DIR ${dataDir}: writable by group or others (mode ${dirMode.toString(8)}), ` +
        'who could replace the keys kept there; use a private directory (chmod 700)',
    );
  }
  try {
    if (!(await exists(path))) await publishNewFile(dataDir, fileName, await create());
    await restrictMode(path, PRIVATE_FILE_MODE);
  } catch (error) {
    throw new ConfigError(`${path}: cannot create or restrict to mode 600 (${errorCode(error)})`);
  }
  return path;
}

/**
 * Writes a new file atomically: a 0600 temp file in the same directory, synced, then hard-linked to
 * its final name. Unlike rename, link never replaces an existing file, so when two processes start at
 * once on an empty directory one file wins and both load it.
 */
async function publishNewFile(dataDir: string, fileName: string, text: string): Promise<void> {
  const temp = join(dataDir, `.${fileName}.${randomBytes(8).toString('hex')}.tmp`);
  const path = join(dataDir, fileName);
  try {
    const handle = await open(temp, 'wx', PRIVATE_FILE_MODE);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(temp, path);
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error;
    }
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

/** chmod down to `mode` when the path grants any permission outside it (0644 → 0600; 0400 stays). */
async function restrictMode(path: string, mode: number): Promise<void> {
  const current = (await stat(path)).mode & 0o777;
  if ((current & ~mode) !== 0) await chmod(path, mode);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return false;
    throw error;
  }
}

export function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? String(error);
}
