import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CliError, ExitCode } from './exit-codes.js';

/** One stored login: the tokens of one issuer + client + profile, and the endpoints to renew them. */
export interface StoredLogin {
  readonly version: 1;
  readonly issuer: string;
  readonly client_id: string;
  readonly profile: string;
  /** From the RFC 8414 metadata at login, so `token` and `logout` need no discovery round trip. */
  readonly endpoints: { readonly token: string; readonly revocation: string | null; readonly jwks_uri: string | null };
  readonly token_type: string;
  readonly access_token: string;
  /** ISO 8601. null when the server sent no `expires_in` and the token is no JWT with `exp`. */
  readonly expires_at: string | null;
  readonly refresh_token?: string;
  /** The granted scope (the token response's, else the requested one). */
  readonly scope?: string;
  readonly resource: readonly string[];
  readonly created_at: string;
  readonly updated_at: string;
}

/**
 * Checks a parsed token file; returns the login or the path of the first bad field. Hand-written
 * rather than Zod: `devicegate token` runs before every call an MCP host makes, and loading Zod
 * would be most of its start-up time.
 */
export function parseStoredLogin(value: unknown): StoredLogin | { invalid: string } {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const isString = (v: unknown) => typeof v === 'string';
  const isNullableString = (v: unknown) => v === null || typeof v === 'string';
  const isOptionalString = (v: unknown) => v === undefined || typeof v === 'string';
  if (!isObject(value)) return { invalid: 'root' };
  if (value.version !== 1) return { invalid: 'version' };
  for (const field of ['issuer', 'client_id', 'profile', 'token_type', 'access_token', 'created_at', 'updated_at']) {
    if (!isString(value[field])) return { invalid: field };
  }
  if (!isNullableString(value.expires_at)) return { invalid: 'expires_at' };
  if (!isOptionalString(value.refresh_token)) return { invalid: 'refresh_token' };
  if (!isOptionalString(value.scope)) return { invalid: 'scope' };
  if (!Array.isArray(value.resource) || !value.resource.every(isString)) return { invalid: 'resource' };
  const endpoints = value.endpoints;
  if (!isObject(endpoints)) return { invalid: 'endpoints' };
  if (!isString(endpoints.token)) return { invalid: 'endpoints.token' };
  if (!isNullableString(endpoints.revocation)) return { invalid: 'endpoints.revocation' };
  if (!isNullableString(endpoints.jwks_uri)) return { invalid: 'endpoints.jwks_uri' };
  return value as unknown as StoredLogin;
}

export interface LoginKey {
  readonly issuer: string;
  readonly client_id: string;
  readonly profile: string;
}

export interface StoredEntry {
  readonly login: StoredLogin;
  readonly file: string;
}

export const DEFAULT_PROFILE = 'default';
const PROFILE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function assertProfileName(profile: string): void {
  if (!PROFILE_PATTERN.test(profile)) {
    throw new CliError(ExitCode.usage, 'invalid_profile', `invalid profile name "${profile}": use letters, digits, '.', '_' or '-' (at most 64)`);
  }
}

export interface LockOptions {
  /** Give up waiting for another devicegate process after this long. */
  readonly timeoutMs?: number;
  /** A lock file older than this is left over from a crashed process and is taken over. */
  readonly staleMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * Token files under `<home>/tokens/`: one JSON file per login, mode 0600 in a 0700 directory,
 * replaced atomically (a 0600 temp file in the same directory, fsync, rename) so a crash or a
 * concurrent reader never sees half a file.
 */
export class TokenStore {
  readonly dir: string;
  /** Problems met while reading (unparseable files, too-open modes), for the caller to print. */
  readonly warnings: string[] = [];

  constructor(readonly home: string) {
    this.dir = join(home, 'tokens');
  }

  /** The file of a login: readable names (host, client, profile) plus a hash that keeps them unique. */
  fileFor(key: LoginKey): string {
    const hash = createHash('sha256').update(`${key.issuer}\n${key.client_id}\n${key.profile}`).digest('base64url').slice(0, 12);
    let host = 'issuer';
    try {
      host = new URL(key.issuer).host;
    } catch {
      // keep the placeholder: the hash still identifies the issuer
    }
    return join(this.dir, `${slug(host)}_${slug(key.client_id)}_${slug(key.profile)}_${hash}.json`);
  }

  async list(): Promise<StoredEntry[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return [];
      throw error;
    }
    const entries: StoredEntry[] = [];
    for (const name of names.sort()) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      const entry = await this.readFile(join(this.dir, name));
      if (entry) entries.push(entry);
    }
    return entries;
  }

  async read(key: LoginKey): Promise<StoredEntry | null> {
    return this.readFile(this.fileFor(key));
  }

  private async readFile(file: string): Promise<StoredEntry | null> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
      if (process.platform !== 'win32' && ((await stat(file)).mode & 0o077) !== 0) {
        this.warnings.push(`${file} is readable by other users; run: chmod 600 '${file}'`);
      }
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return null;
      throw error;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      this.warnings.push(`${file} is not valid JSON; ignored`);
      return null;
    }
    const login = parseStoredLogin(json);
    if ('invalid' in login) {
      this.warnings.push(`${file} is not a devicegate login file (${login.invalid}); ignored`);
      return null;
    }
    return { login, file };
  }

  /** Writes atomically with mode 0600; returns the file. */
  async write(login: StoredLogin): Promise<string> {
    await this.ensureDir();
    const file = this.fileFor(login);
    const temp = join(this.dir, `.${randomBytes(8).toString('hex')}.tmp`);
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.chmod(0o600); // the umask can only narrow the mode; make it exact anyway
      await handle.writeFile(`${JSON.stringify(login, null, 2)}\n`, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(temp, file);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    return file;
  }

  async remove(key: LoginKey): Promise<void> {
    await rm(this.fileFor(key), { force: true });
  }

  /**
   * Runs `fn` holding an exclusive lock on one login, across processes (a lock file created with
   * O_EXCL). Refresh tokens rotate: two `devicegate token` processes refreshing at once would
   * present the same refresh token twice, and the server would revoke the whole family as reuse.
   */
  async withLock<T>(key: LoginKey, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
    const { timeoutMs = 15_000, staleMs = 60_000, sleep = (ms) => new Promise((r) => setTimeout(r, ms)) } = options;
    await this.ensureDir();
    const lock = `${this.fileFor(key)}.lock`;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const handle = await open(lock, 'wx', 0o600);
        await handle.writeFile(`${process.pid}\n`);
        await handle.close();
        break;
      } catch (error) {
        if (!isErrno(error, 'EEXIST')) throw error;
      }
      const age = await stat(lock).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0, // vanished meanwhile: try again at once
      );
      if (age > staleMs) {
        await rm(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new CliError(ExitCode.failure, 'locked', `another devicegate process holds ${lock}; if none is running, delete that file`);
      }
      await sleep(50 + Math.floor(Math.random() * 50));
    }
    try {
      return await fn();
    } finally {
      await rm(lock, { force: true });
    }
  }

  private async ensureDir(): Promise<void> {
    await mkdir(this.home, { recursive: true, mode: 0o700 });
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    if (process.platform !== 'win32') await chmod(this.dir, 0o700); // made by hand or by an older version
  }
}

export interface LoginSelector {
  readonly issuer?: string | undefined;
  readonly clientId?: string | undefined;
  readonly profile?: string | undefined;
}

/**
 * Picks one stored login. Each given field filters; with no `profile` given and several matches,
 * the one whose profile is `default` wins; otherwise the choice is ambiguous (a usage error).
 */
export function selectLogin(entries: readonly StoredEntry[], selector: LoginSelector): StoredEntry {
  const matches = entries.filter(
    ({ login }) =>
      (selector.issuer === undefined || login.issuer === selector.issuer) &&
      (selector.clientId === undefined || login.client_id === selector.clientId) &&
      (selector.profile === undefined || login.profile === selector.profile),
  );
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) {
    throw new CliError(
      ExitCode.loginRequired,
      'login_required',
      `not logged in${describeSelector(selector)}: run devicegate login --issuer URL --client-id ID${selector.profile ? ` --profile ${selector.profile}` : ''}`,
    );
  }
  const defaults = selector.profile === undefined ? matches.filter(({ login }) => login.profile === DEFAULT_PROFILE) : [];
  if (defaults.length === 1) return defaults[0]!;
  const listed = matches.map(({ login }) => `  --profile ${login.profile} (${login.issuer}, client ${login.client_id})`).join('\n');
  throw new CliError(ExitCode.usage, 'ambiguous_login', `several stored logins match${describeSelector(selector)}; choose one:\n${listed}`);
}

export function describeSelector(selector: LoginSelector): string {
  const parts = [
    selector.issuer && `issuer ${selector.issuer}`,
    selector.clientId && `client ${selector.clientId}`,
    selector.profile && `profile ${selector.profile}`,
  ].filter(Boolean);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

function slug(value: string): string {
  return value.replace(/[^A-Za-z0-9.-]+/g, '-').slice(0, 40) || 'x';
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}
