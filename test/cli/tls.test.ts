import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childEnv, runCli } from './support.js';


/**
 * A private CA, trusted only through NODE_EXTRA_CA_CERTS: an HTTPS authorization server whose
 * certificate Node does not know fails with a clear network error (exit 5), and succeeds once the CA
 * file is given.
 */
describe('custom CA via NODE_EXTRA_CA_CERTS', { timeout: 60_000 }, () => {
  let dir: string;
  let server: Server;
  let issuer: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'devicegate-tls-'));
    const openssl = (...args: string[]) => {
      const result = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
      if (result.status !== 0) throw new Error(result.stderr);
    };
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=devicegate test CA');
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
    writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n');
    openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'ext.cnf');
    server = createServer({ key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.pem')) }, (request, response) => {
      const body =
        request.url === '/.well-known/oauth-authorization-server'
          ? { issuer, token_endpoint: `${issuer}/token`, device_authorization_endpoint: `${issuer}/device_authorization` }
          : request.url === '/device_authorization'
            ? { error: 'invalid_client', error_description: 'unknown client' }
            : { error: 'not_found' };
      response.writeHead(request.url === '/.well-known/oauth-authorization-server' ? 200 : 401, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    issuer = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('an unknown CA is a network error naming the certificate problem; NODE_EXTRA_CA_CERTS makes it trusted', async () => {
    const args = ['login', '--issuer', issuer, '--client-id', 'x', '--json'];
    const home = mkdtempSync(join(tmpdir(), 'devicegate-tls-home-'));
    const untrusted = await runCli(args, { env: childEnv(home) });
    expect(untrusted.code).toBe(5);
    expect(JSON.parse(untrusted.stdout)).toMatchObject({ event: 'error', error: 'network_error' });
    expect(JSON.parse(untrusted.stdout).error_description).toMatch(/CERT|certificate/i);

    // Trusted: discovery succeeds and the request reaches the server (which refuses the client: exit 6).
    const trusted = await runCli(args, { env: childEnv(home, { NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem') }) });
    expect(JSON.parse(trusted.stdout)).toMatchObject({ event: 'error', error: 'invalid_client' });
    expect(trusted.code).toBe(6);
  });
});
