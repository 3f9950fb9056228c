import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configHome } from '../../src/cli/config-home.js';
import { CliError, ExitCode } from '../../src/cli/exit-codes.js';
import { selectLogin, type StoredEntry, type StoredLogin, TokenStore } from '../../src/cli/token-store.js';
import { sampleLogin } from './fixtures.js';

const mode = (path: string) => statSync(path).mode & 0o777;

describe('TokenStore files', () => {
  let home: string;
  let umask: number;
  beforeEach(() => {
    home = join(mkdtempSync(join(tmpdir(), 'devicegate-store-')), 'home');
    umask = process.umask(0); // the most permissive umask: modes must come from the code, not the umask
  });
  afterEach(() => {
    process.umask(umask);
  });

  it('writes the file with mode 0600 in a 0700 directory, whatever the umask', async () => {
    const store = new TokenStore(home);
    const file = await store.write(sampleLogin());
    expect(mode(file)).toBe(0o600);
    expect(mode(store.dir)).toBe(0o700);
    expect(mode(home)).toBe(0o700);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(sampleLogin());
  });

  it('tightens a tokens directory that was made with a wider mode', async () => {
    mkdirSync(join(home, 'tokens'), { recursive: true, mode: 0o755 });
    chmodSync(join(home, 'tokens'), 0o755);
    const store = new TokenStore(home);
    await store.write(sampleLogin());
    expect(mode(store.dir)).toBe(0o700);
  });

  it('replaces a login atomically and leaves no temp files; the mode stays 0600', async () => {
    const store = new TokenStore(home);
    const file = await store.write(sampleLogin());
    chmodSync(file, 0o644);
    await store.write(sampleLogin({ access_token: 'access-2' }));
    expect(readdirSync(store.dir)).toEqual([file.split('/').at(-1)]);
    expect(mode(file)).toBe(0o600); // a new inode from the 0600 temp file
    expect((await store.read(sampleLogin()))?.login.access_token).toBe('access-2');
  });

  it('keeps one file per issuer + client + profile', async () => {
    const store = new TokenStore(home);
    await store.write(sampleLogin());
    await store.write(sampleLogin({ profile: 'work' }));
    await store.write(sampleLogin({ client_id: 'other-cli' }));
    await store.write(sampleLogin({ issuer: 'https://auth.example.com/tenant' }));
    expect(await store.list()).toHaveLength(4);
    await store.remove(sampleLogin({ profile: 'work' }));
    expect((await store.list()).map((e) => e.login.profile)).not.toContain('work');
  });

  it('skips files it cannot read as logins, and warns about files others can read', async () => {
    const store = new TokenStore(home);
    const file = await store.write(sampleLogin());
    writeFileSync(join(store.dir, 'broken.json'), '{nope', { mode: 0o600 });
    writeFileSync(join(store.dir, 'other.json'), '{"hello":1}', { mode: 0o600 });
    chmodSync(file, 0o644);
    const entries = await store.list();
    expect(entries.map((e) => e.file)).toEqual([file]);
    expect(store.warnings.join('\n')).toMatch(/broken\.json is not valid JSON/);
    expect(store.warnings.join('\n')).toMatch(/other\.json is not a devicegate login file/);
    expect(store.warnings.join('\n')).toContain(`${file} is readable by other users`);
  });

  it('lock: serialises holders, and takes over a stale lock', async () => {
    const store = new TokenStore(home);
    const order: string[] = [];
    const hold = (name: string, ms: number) =>
      store.withLock(sampleLogin(), async () => {
        order.push(`${name}:in`);
        await new Promise((r) => setTimeout(r, ms));
        order.push(`${name}:out`);
      });
    await Promise.all([hold('a', 50), hold('b', 0), hold('c', 10)]);
    // Whoever wins, no two are inside at once: every "in" is followed by its own "out".
    expect(order).toHaveLength(6);
    for (let i = 0; i < 6; i += 2) expect(order[i + 1]).toBe(order[i]!.replace(':in', ':out'));

    const lock = `${store.fileFor(sampleLogin())}.lock`;
    writeFileSync(lock, '99999\n');
    const old = new Date(Date.now() - 120_000);
    utimesSync(lock, old, old);
    expect(await store.withLock(sampleLogin(), async () => 'taken over')).toBe('taken over');
    expect(readdirSync(store.dir).some((name) => name.endsWith('.lock'))).toBe(false);
  });

  it('lock: gives up after the timeout while another process holds it', async () => {
    const store = new TokenStore(home);
    await store.write(sampleLogin());
    writeFileSync(`${store.fileFor(sampleLogin())}.lock`, `${process.pid}\n`);
    await expect(store.withLock(sampleLogin(), async () => 'never', { timeoutMs: 100 })).rejects.toMatchObject({ code: 'locked' });
  });
});

describe('selectLogin', () => {
  const entry = (overrides: Partial<StoredLogin>): StoredEntry => ({ login: sampleLogin(overrides), file: 'x' });
  const entries = [
    entry({}),
    entry({ profile: 'work' }),
    entry({ issuer: 'https://other.example.com', client_id: 'x-cli', profile: 'ci' }),
  ];

  it('picks by profile, by issuer + client, or the default profile when several match', () => {
    expect(selectLogin(entries, { profile: 'ci' }).login.issuer).toBe('https://other.example.com');
    expect(selectLogin(entries, { issuer: 'https://auth.example.com', clientId: 'demo-cli' }).login.profile).toBe('default');
    expect(selectLogin(entries, {}).login.profile).toBe('default');
    expect(selectLogin([entries[1]!], {}).login.profile).toBe('work'); // the only login needs no name
  });

  it('says "log in" (exit 7) when nothing matches and "choose" (exit 2) when ambiguous', () => {
    const none = (() => {
      try {
        selectLogin(entries, { profile: 'nope' });
      } catch (error) {
        return error;
      }
    })();
    expect(none).toBeInstanceOf(CliError);
    expect(none).toMatchObject({ exitCode: ExitCode.loginRequired, code: 'login_required' });
    expect(() => selectLogin([entries[1]!, entries[2]!], {})).toThrow(/several stored logins match/);
    try {
      selectLogin([entries[1]!, entries[2]!], {});
    } catch (error) {
      expect(error).toMatchObject({ exitCode: ExitCode.usage });
    }
  });
});

describe('configHome', () => {
  it('DEVICEGATE_HOME, then XDG_CONFIG_HOME (absolute only), then ~/.config; APPDATA on Windows', () => {
    expect(configHome({ DEVICEGATE_HOME: '/srv/dg', XDG_CONFIG_HOME: '/x' }, 'linux', '/home/a')).toBe('/srv/dg');
    expect(configHome({ XDG_CONFIG_HOME: '/x' }, 'linux', '/home/a')).toBe('/x/devicegate');
    expect(configHome({ XDG_CONFIG_HOME: 'relative' }, 'linux', '/home/a')).toBe('/home/a/.config/devicegate');
    expect(configHome({}, 'darwin', '/Users/a')).toBe('/Users/a/.config/devicegate');
    expect(configHome({ APPDATA: 'C:\\Users\\a\\AppData\\Roaming' }, 'win32', 'C:\\Users\\a')).toMatch(/AppData.Roaming.devicegate$/);
  });
});
