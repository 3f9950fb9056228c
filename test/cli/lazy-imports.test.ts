import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenStore } from '../../src/cli/token-store.js';

/**
 * Which modules each command loads, traced by a module-loader hook that records every URL Node loads
 * (a CommonJS package shows up as the entry file its ESM import loads). `devicegate token` runs before
 * every request an MCP host makes: it must not load the server (Koa, pino, ioredis), the pages, the QR
 * code, Zod or commander. See bench/cli-start.ts for what this is worth in start-up time.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'devicegate-lazy-'));
const home = join(work, 'home');
const ACCESS_TOKEN = 'lazy-imports-test-token';

beforeAll(async () => {
  writeFileSync(
    join(work, 'hooks.mjs'),
    `import { appendFileSync } from 'node:fs';
export async function load(url, context, nextLoad) {
  if (!url.startsWith('node:')) appendFileSync(process.env.TRACE_FILE, url + '\\n');
  return nextLoad(url, context);
}
`,
  );
  writeFileSync(
    join(work, 'trace.mjs'),
    `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(work, 'hooks.mjs')).href)});\n`,
  );
  const now = new Date();
  await new TokenStore(home).write({
    version: 1,
    issuer: 'https://auth.example.test',
    client_id: 'lazy-cli',
    profile: 'default',
    endpoints: { token: 'http://127.0.0.1:9/oauth/token', revocation: null, jwks_uri: null },
    token_type: 'Bearer',
    access_token: ACCESS_TOKEN,
    expires_at: new Date(now.getTime() + 3_600_000).toISOString(),
    refresh_token: 'unused',
    resource: [],
    created_at: now.toISOString(),
    updated_at: now.toISOString(),
  });
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs the CLI from the sources (bin/devicegate.mjs) and returns what it printed and loaded. */
function traced(args: string[], input = ''): { status: number | null; stdout: string; loaded: string[] } {
  const traceFile = join(work, `trace-${args.join('_')}.txt`);
  writeFileSync(traceFile, '');
  const env: NodeJS.ProcessEnv = { ...process.env, DEVICEGATE_HOME: home, TRACE_FILE: traceFile };
  delete env.NODE_OPTIONS;
  const result = spawnSync(process.execPath, ['--import', join(work, 'trace.mjs'), 'bin/devicegate.mjs', ...args], {
    cwd: ROOT,
    env,
    input,
    encoding: 'utf8',
    timeout: 60_000,
  });
  const loaded = readFileSync(traceFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .filter((url) => !/\/node_modules\/(tsx|esbuild|get-tsconfig|resolve-pkg-maps)\//.test(url)) // the dev launcher itself
    .map((url) => url.replace(pathToFileURL(ROOT).href + '/', ''));
  return { status: result.status, stdout: result.stdout, loaded };
}

/** Packages and source folders no short-lived command may load. */
const SERVER_SIDE = [
  /^node_modules\/(koa|@koa|pino|ioredis|rate-limiter-flexible|@trpc|trpc-to-openapi|zod|zod-openapi|jose|raw-body|@modelcontextprotocol)\//,
  /^src\/(http|ui|store|openapi|app|contracts|tokens)\//,
  /^src\/(server|main|start|config)\.ts/,
];
const LOGIN_UI = [/^node_modules\/uqr\//, /^src\/cli\/(qr|browser|terminal)\.ts/, /^src\/cli\/commands\/login/];

function expectNone(loaded: string[], patterns: RegExp[]): void {
  expect(loaded.filter((url) => patterns.some((pattern) => pattern.test(url)))).toEqual([]);
}

describe('lazy imports', () => {
  it('devicegate token with a valid stored token loads neither the server, the login UI nor commander', () => {
    const { status, stdout, loaded } = traced(['token']);
    expect(status).toBe(0);
    expect(stdout).toBe(`${ACCESS_TOKEN}\n`);
    expect(loaded).toContain('src/cli/commands/token.ts'); // the trace works
    expectNone(loaded, [...SERVER_SIDE, ...LOGIN_UI, /^node_modules\/commander\//, /^node_modules\/undici\//]);
  });

  it('devicegate --help loads commander but no command module', () => {
    const { status, stdout, loaded } = traced(['--help']);
    expect(status).toBe(0);
    expect(stdout).toContain('Usage: devicegate');
    expect(loaded.some((url) => url.startsWith('node_modules/commander/'))).toBe(true);
    expectNone(loaded, [...SERVER_SIDE, ...LOGIN_UI, /^src\/cli\/commands\//, /^src\/sdk\//]);
  });

  it('devicegate hash-password loads only the password module (no commander, no CLI command)', () => {
    const { status, stdout, loaded } = traced(['hash-password'], 'secret\n');
    expect(status).toBe(0);
    expect(stdout).toMatch(/^\$scrypt\$/);
    expect(loaded).toContain('src/domain/password.ts');
    expectNone(loaded, [...SERVER_SIDE, ...LOGIN_UI, /^src\/cli\/(main|run|commands\/)/, /^src\/sdk\//, /^node_modules\/commander\//]);
  });
});
