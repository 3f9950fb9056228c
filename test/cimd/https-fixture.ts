import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A throw-away CA and a server certificate for `cimd.test` and 127.0.0.1, made with openssl. */
export function makeTestCertificates(): { dir: string; caPath: string; key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'devicegate-cimd-ca-'));
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=devicegate test CA');
  run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=cimd.test');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:cimd.test,DNS:other.test,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n');
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext');
  return { dir, caPath: join(dir, 'ca.pem'), key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.pem')) };
}

export interface DocumentServer {
  readonly port: number;
  /** Requests received per path. */
  readonly hits: Map<string, number>;
  close(): Promise<void>;
}

/** What each path answers; `origin` is `https://cimd.test:{port}` so documents can name their own URL. */
type Route = (origin: string, hit: number) => { status?: number; headers?: Record<string, string>; body?: string | Buffer; stream?: Buffer[]; hang?: boolean };

export function document(origin: string, path: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    client_id: `${origin}${path}`,
    client_name: 'Example MCP Host',
    redirect_uris: ['http://127.0.0.1/callback', 'https://app.example.com/callback'],
    grant_types: ['authorization_code', 'refresh_token'],
    token_endpoint_auth_method: 'none',
    ...extra,
  });
}

const json = (body: string, headers: Record<string, string> = {}) => ({ headers: { 'content-type': 'application/json', ...headers }, body });

/** Every scenario the fetch tests exercise, by path. */
export const ROUTES: Record<string, Route> = {
  '/good.json': (origin) => json(document(origin, '/good.json'), { 'cache-control': 'public, max-age=120' }),
  '/device-only.json': (origin) =>
    json(document(origin, '/device-only.json', { redirect_uris: undefined, grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'] })),
  '/mismatch.json': (origin) => json(document(origin, '/someone-else.json')),
  '/big.json': (origin) => json(document(origin, '/big.json', { padding: 'x'.repeat(10_000) })),
  // No Content-Length: the limit must hold while streaming.
  '/big-chunked.json': (origin) => ({
    headers: { 'content-type': 'application/json' },
    stream: [Buffer.from(document(origin, '/big-chunked.json').slice(0, -1)), Buffer.from(`,"padding":"${'x'.repeat(8_000)}"`), Buffer.from('}')],
  }),
  '/loop.json': () => ({ status: 302, headers: { location: '/loop.json' } }),
  '/slow.json': () => ({ hang: true }),
  '/page.html': () => ({ headers: { 'content-type': 'text/html' }, body: '<html></html>' }),
  '/not-json.json': () => json('{"client_id": '),
  '/array.json': () => json('[]'),
  '/missing.json': () => ({ status: 404, body: 'not found' }),
  '/secret.json': (origin) => json(document(origin, '/secret.json', { client_secret: 's3cret' })),
  '/basic.json': (origin) => json(document(origin, '/basic.json', { token_endpoint_auth_method: 'client_secret_basic' })),
  '/flaky.json': (origin, hit) => (hit === 1 ? { status: 500, body: 'oops' } : json(document(origin, '/flaky.json'))),
  '/counted.json': (origin) => json(document(origin, '/counted.json'), { 'cache-control': 'max-age=120' }),
  '/no-store.json': (origin) => json(document(origin, '/no-store.json'), { 'cache-control': 'no-store' }),
};

export async function startDocumentServer(key: Buffer, cert: Buffer): Promise<DocumentServer> {
  const hits = new Map<string, number>();
  let port = 0;
  const server: Server = createServer({ key, cert }, (request, response) => {
    const path = new URL(request.url ?? '/', 'https://x').pathname;
    const hit = (hits.get(path) ?? 0) + 1;
    hits.set(path, hit);
    const route = ROUTES[path];
    if (!route) return void response.writeHead(404).end();
    const answer = route(`https://cimd.test:${port}`, hit);
    if (answer.hang) return void response.writeHead(200, { 'content-type': 'application/json' }).write('{');
    response.writeHead(answer.status ?? 200, answer.headers ?? {});
    if (answer.stream) {
      for (const chunk of answer.stream) response.write(chunk);
      return void response.end();
    }
    response.end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  return {
    port,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
