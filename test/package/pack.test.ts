import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startTestRedis, type TestRedis } from '../support/redis-server.js';

/**
 * The published package, as a user gets it: `npm pack` (whose `prepare` script builds dist/), the
 * tarball unpacked into an empty directory outside the repository as node_modules/devicegate, and
 * only its declared `dependencies` beside it. No registry: each dependency is a symlink to the copy
 * `npm ci` put in the repository's node_modules (Node resolves a symlinked package from its real
 * path, so the dependencies' own dependencies come along). devicegate's own files are real files in
 * the temporary directory, so an import of anything that is not a declared dependency (tsx, a dev
 * dependency, a file left out of "files") fails here as it would for a user.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'devicegate-pack-'));
const app = join(work, 'app');
const installed = join(app, 'node_modules', 'devicegate');

interface PackedFile {
  readonly path: string;
  readonly mode: number;
}
let packedFiles: PackedFile[] = [];
let manifest: {
  private?: boolean;
  bin: Record<string, string>;
  exports: Record<string, string | Record<string, string>>;
  files: string[];
  dependencies: Record<string, string>;
  devDependencies?: Record<string, string>;
  scripts: Record<string, string>;
};
let bin: string;

/** Child processes get no NODE_OPTIONS (a test runner's loaders must not help the package run). */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...extra };
  delete env.NODE_OPTIONS;
  return env;
}

beforeAll(() => {
  // Without dist/, the tarball can only contain compiled code if `npm pack` ran `prepare` (the build),
  // which is also what a git install (`npm install github:…`) runs.
  rmSync(join(ROOT, 'dist'), { recursive: true, force: true });
  const packed = spawnSync('npm', ['pack', '--json', '--pack-destination', work], {
    cwd: ROOT,
    env: cleanEnv({ npm_config_ignore_scripts: 'false', npm_config_offline: 'true' }),
    encoding: 'utf8',
    timeout: 240_000,
  });
  if (packed.status !== 0) throw new Error(`npm pack failed (exit ${packed.status}):\n${packed.stdout}\n${packed.stderr}`);
  const [result] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string; files: PackedFile[] }[];
  packedFiles = result!.files;

  mkdirSync(join(app, 'node_modules'), { recursive: true });
  writeFileSync(join(app, 'package.json'), `${JSON.stringify({ name: 'pack-test-app', private: true, type: 'module' })}\n`);
  execFileSync('tar', ['-xzf', join(work, result!.filename), '-C', join(app, 'node_modules')]);
  renameSync(join(app, 'node_modules', 'package'), installed);
  manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as typeof manifest;

  for (const name of Object.keys(manifest.dependencies)) {
    const target = join(ROOT, 'node_modules', name);
    if (!existsSync(target)) throw new Error(`dependency ${name} is not installed in ${ROOT}/node_modules: run npm ci`);
    const link = join(app, 'node_modules', name);
    mkdirSync(dirname(link), { recursive: true }); // @scope/
    symlinkSync(target, link, 'dir');
  }
  // What npm does on install for each "bin" entry: a link in node_modules/.bin, the target executable.
  mkdirSync(join(app, 'node_modules', '.bin'));
  for (const [name, path] of Object.entries(manifest.bin)) {
    chmodSync(join(installed, path), 0o755);
    symlinkSync(join('..', 'devicegate', path), join(app, 'node_modules', '.bin', name));
  }
  bin = join(app, 'node_modules', '.bin', 'devicegate');
}, 300_000);

let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});

afterAll(async () => {
  await redis?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('is publishable and builds itself when packed or installed from git', () => {
    expect(manifest.private).toBeUndefined();
    expect(manifest.scripts.prepare).toMatch(/\bbuild\b/);
    // The compiled CLI must not need the TypeScript runner at run time.
    expect(Object.keys(manifest.dependencies)).not.toContain('tsx');
  });

  it('ships the compiled code, its declarations, the API document, the Redoc page and the example config', () => {
    const paths = new Set(packedFiles.map((file) => file.path));
    for (const needed of [
      'package.json',
      'README.md',
      'dist/bin.js',
      'dist/main.js',
      'dist/start.js',
      'dist/start.d.ts',
      'dist/sdk/index.js',
      'dist/sdk/index.d.ts',
      'dist/resource-server/index.js',
      'dist/resource-server/index.d.ts',
      'generated/openapi.d.ts',
      'openapi/openapi.json',
      'openapi/docs.html',
      'config/devicegate.example.json',
    ]) {
      expect(paths, needed).toContain(needed);
    }
    // Every asset the server reads beside its modules (Lua scripts, the stylesheet) is in dist/.
    expect([...paths].filter((path) => path.endsWith('.lua')).length).toBeGreaterThan(0);
    expect([...paths].some((path) => /^dist\/.*\.css$/.test(path))).toBe(true);
    // …and nothing else: no sources, tests, benchmarks, scripts or TypeScript other than declarations.
    const unexpected = [...paths].filter(
      (path) =>
        !/^(package\.json|README\.md|LICENSE(\.\w+)?)$/.test(path) &&
        !path.startsWith('dist/') &&
        !['generated/openapi.d.ts', 'openapi/openapi.json', 'openapi/docs.html', 'openapi/config.schema.json', 'config/devicegate.example.json'].includes(path),
    );
    expect(unexpected).toEqual([]);
    expect([...paths].filter((path) => path.endsWith('.ts') && !path.endsWith('.d.ts'))).toEqual([]);
  });

  it('points "bin" and every export at files it ships', () => {
    const paths = new Set(packedFiles.map((file) => file.path));
    for (const path of Object.values(manifest.bin)) expect(paths).toContain(path.replace(/^\.\//, ''));
    expect(Object.keys(manifest.exports)).toEqual(expect.arrayContaining(['./sdk', './server', './resource-server']));
    for (const target of Object.values(manifest.exports)) {
      for (const file of typeof target === 'string' ? [target] : Object.values(target)) {
        expect(paths, file).toContain(file.replace(/^\.\//, ''));
      }
    }
  });
});

describe('the installed package', () => {
  it('devicegate --help prints the usage from compiled JavaScript', () => {
    const result = spawnSync(bin, ['--help'], { cwd: app, env: cleanEnv(), encoding: 'utf8', timeout: 30_000 });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('Usage: devicegate');
    for (const command of ['login', 'token', 'status', 'logout', 'hash-password', 'serve']) expect(result.stdout).toContain(command);
  });

  it('devicegate hash-password prints a scrypt PHC hash that the installed code verifies', () => {
    const result = spawnSync(bin, ['hash-password'], { cwd: app, env: cleanEnv(), input: 'secret', encoding: 'utf8', timeout: 30_000 });
    expect(result.status).toBe(0);
    const hash = result.stdout.trim();
    expect(hash).toMatch(/^\$scrypt\$ln=\d+,r=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
    const verify = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { verifySecret } = await import(${JSON.stringify(join(installed, 'dist/domain/password.js'))});
         process.stdout.write(String(await verifySecret('secret', ${JSON.stringify(hash)})) + ' ' + String(await verifySecret('other', ${JSON.stringify(hash)})));`,
      ],
      { cwd: app, env: cleanEnv(), encoding: 'utf8', timeout: 30_000 },
    );
    expect(verify.stderr).toBe('');
    expect(verify.stdout).toBe('true false');
  });

  it('exports the typed SDK (devicegate/sdk), the server start (devicegate/server) and the resource-server helper', () => {
    const result = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const sdk = await import('devicegate/sdk');
         const server = await import('devicegate/server');
         const resourceServer = await import('devicegate/resource-server');
         console.log(JSON.stringify({ client: typeof sdk.DeviceGateClient, discover: typeof sdk.discover,
           startServer: typeof server.startServer, loadConfig: typeof server.loadConfig,
           createResourceServer: typeof resourceServer.createResourceServer, mcpBearerAuthOptions: typeof resourceServer.mcpBearerAuthOptions }));`,
      ],
      { cwd: app, env: cleanEnv(), encoding: 'utf8', timeout: 30_000 },
    );
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({
      client: 'function',
      discover: 'function',
      startServer: 'function',
      loadConfig: 'function',
      createResourceServer: 'function',
      mcpBearerAuthOptions: 'function',
    });
  });

  it('type-checks a consumer of the three exports against the shipped declarations', () => {
    writeFileSync(
      join(app, 'consumer.ts'),
      `import { DeviceGateClient, type TokenResponse } from 'devicegate/sdk';
import { loadConfig, startServer, type RunningServer } from 'devicegate/server';
import { createResourceServer } from 'devicegate/resource-server';

export const client = new DeviceGateClient({ baseUrl: 'https://auth.example.com' });
export async function start(): Promise<RunningServer> {
  return startServer(loadConfig({ PORT: '0' }));
}
export function bearer(tokens: TokenResponse): string {
  return tokens.access_token;
}
export const resourceServer = createResourceServer({ issuer: 'https://auth.example.com', resource: 'https://mcp.example.com/mcp' });
// The declarations carry real types, not any: each of these must be a type error.
// @ts-expect-error access_token is a string
export const notANumber: number = ({} as TokenResponse).access_token;
// @ts-expect-error baseUrl is required
new DeviceGateClient({});
// @ts-expect-error resource is required
createResourceServer({ issuer: 'https://auth.example.com' });
`,
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: true, types: ['node'], typeRoots: [join(ROOT, 'node_modules/@types')] },
        files: ['consumer.ts'],
      }),
    );
    const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', app], {
      cwd: app,
      env: cleanEnv(),
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.status).toBe(0);
  }, 150_000);

  it('devicegate serve runs the server from the installed files and stops on SIGTERM', async () => {
    const port = await freePort();
    const dataDir = join(work, 'data');
    const server = spawn(bin, ['serve'], {
      cwd: app,
      env: cleanEnv({ PORT: String(port), HOST: '127.0.0.1', DEVICEGATE_DATA_DIR: dataDir, LOG_LEVEL: 'info', REDIS_URL: redis.url, DEVICEGATE_SECRET: 'pack-test-secret-pack-test-secret-0123' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    server.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    server.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolveExit) => server.on('exit', (code) => resolveExit(code)));
    try {
      await waitFor(() => output.includes('devicegate listening'), server, () => output);
      const base = `http://127.0.0.1:${port}`;

      const health = await fetch(`${base}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok' });

      const metadata = await fetch(`${base}/.well-known/oauth-authorization-server`);
      expect(metadata.status).toBe(200);
      const body = (await metadata.json()) as { issuer: string; device_authorization_endpoint: string };
      expect(body.issuer).toBe(`http://localhost:${port}`);
      expect(body.device_authorization_endpoint).toBe(`http://localhost:${port}/oauth/device/authorize`);

      // The OpenAPI document and the Redoc page are read from the package's openapi/ folder.
      const docs = await fetch(`${base}/docs`);
      expect(docs.status).toBe(200);
      expect(await docs.text()).toContain('<html');
      const openapi = await fetch(`${base}/openapi.json`);
      expect(openapi.status).toBe(200);
      expect(((await openapi.json()) as { openapi: string }).openapi).toMatch(/^3\.1/);

      // The pages' stylesheet is read from beside the compiled page module.
      expect((await fetch(`${base}/device`)).status).toBe(200);
      const stylesheet = await fetch(`${base}/device/style.css`);
      expect(stylesheet.status).toBe(200);
      expect(await stylesheet.text()).toContain('{');

      // A device code for the bundled example config's client, stored by create-grant.lua (read from
      // beside the compiled Redis store) in the private Redis.
      const authorize = await fetch(`${base}/oauth/device/authorize`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: 'client_id=demo-cli&scope=openid',
      });
      expect(authorize.status).toBe(200);
      expect(await authorize.json()).toMatchObject({ user_code: expect.stringMatching(/^[A-Z0-9]{4}-[A-Z0-9]{4}$/), interval: 5 });
    } finally {
      server.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(output).toContain('shutting down');
    expect(output).toContain('"store":"redis"');
  }, 90_000);

  it('startServer(loadConfig()) from devicegate/server serves and closes', () => {
    const result = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { loadConfig, startServer } = await import('devicegate/server');
         const server = await startServer(loadConfig({ PORT: '0', DEVICEGATE_DATA_DIR: ${JSON.stringify(join(work, 'embedded-data'))}, LOG_LEVEL: 'silent' }));
         const health = await fetch(server.url + '/healthz');
         const docs = await fetch(server.url + '/docs');
         await server.close();
         console.log(JSON.stringify({ health: health.status, docs: docs.status, url: /^http:\\/\\/127\\.0\\.0\\.1:\\d+$/.test(server.url) }));`,
      ],
      { cwd: app, env: cleanEnv(), encoding: 'utf8', timeout: 60_000 },
    );
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ health: 200, docs: 200, url: true });
  }, 90_000);
});

/** Polls until `ready()` (the server logged that it listens), failing early if the process exits. */
async function waitFor(ready: () => boolean, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!ready()) {
    if (child.exitCode !== null) throw new Error(`devicegate serve exited with ${child.exitCode}:\n${output()}`);
    if (Date.now() > deadline) throw new Error(`devicegate serve did not start within 60 s:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
