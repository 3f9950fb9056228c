import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s256Challenge } from '../../src/domain/pkce.js';
import { makeTestCertificates } from '../cimd/https-fixture.js';
import { DEVICE_GRANT, form, TEST_USERS, testConfigFile } from '../support/server.js';
import { Agent } from '../ui/agent.js';

/**
 * Client ID Metadata Documents end to end: devicegate (in a child process that trusts a test CA
 * through NODE_EXTRA_CA_CERTS, loopback allowed as for development) resolves https client_ids from a
 * local HTTPS server — for the authorization code flow (the confirmation page names the document's
 * host), for the device grant with a device-only document, and refuses unusable documents as
 * invalid_client on the page (mismatched client_id, oversized, redirect loop, private address).
 */

const RESOURCE = 'https://mcp.example.com/';
const DEVICE_ONLY = [DEVICE_GRANT, 'refresh_token'];

let documents: Server;
let origin: string;
let child: ChildProcess;
let issuer: string;

/** Each path's document; `url` is the document's own URL (its client_id). */
const ROUTES: Record<string, (url: string) => { status?: number; headers?: Record<string, string>; body?: string }> = {
  '/ide.json': (url) => doc({ client_id: url, client_name: 'Friendly IDE', redirect_uris: ['http://127.0.0.1/callback'], grant_types: ['authorization_code', 'refresh_token'] }),
  '/cli.json': (url) => doc({ client_id: url, client_name: 'Headless MCP CLI', grant_types: DEVICE_ONLY }),
  '/mismatch.json': () => doc({ client_id: 'https://someone-else.example/ide.json', redirect_uris: ['http://127.0.0.1/callback'] }),
  '/big.json': (url) => doc({ client_id: url, redirect_uris: ['http://127.0.0.1/callback'], padding: 'x'.repeat(20_000) }),
  '/loop.json': () => ({ status: 302, headers: { location: '/loop.json' } }),
};

function doc(body: Record<string, unknown>) {
  return { headers: { 'content-type': 'application/json', 'cache-control': 'max-age=300' }, body: JSON.stringify({ token_endpoint_auth_method: 'none', ...body }) };
}

beforeAll(async () => {
  const certificates = makeTestCertificates();
  documents = createServer({ key: certificates.key, cert: certificates.cert }, (request, response) => {
    const path = new URL(request.url ?? '/', 'https://x').pathname;
    const route = ROUTES[path];
    if (!route) return void response.writeHead(404).end();
    // The document names its own URL, query included (a client_id may carry one).
    const answer = route(`${origin}${request.url}`);
    response.writeHead(answer.status ?? 200, answer.headers ?? {}).end(answer.body);
  });
  await new Promise<void>((resolve) => documents.listen(0, '127.0.0.1', resolve));
  origin = `https://127.0.0.1:${(documents.address() as AddressInfo).port}`;

  const base = await testConfigFile();
  const file = {
    ...base,
    resources: [RESOURCE, 'https://other.example.com/api'],
    client_id_metadata_documents: { enabled: true, allow_loopback: true, scope: 'openid mcp:tools' },
  };
  child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./cimd-devicegate-child.ts', import.meta.url)), JSON.stringify({ file })], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: certificates.caPath },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  issuer = await new Promise<string>((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const line = output.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.once('exit', (code) => reject(new Error(`devicegate child exited with ${code}`)));
  });
}, 60_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  await new Promise<void>((resolve) => (documents ? documents.close(() => resolve()) : resolve()));
});

async function signedInAgent(): Promise<Agent> {
  const agent = new Agent(issuer);
  await agent.get('/device/sign-in');
  expect((await agent.post('/device/sign-in', { username: 'alice', password: TEST_USERS.alice })).status).toBe(303);
  return agent;
}

function post(path: string, fields: Record<string, string | string[]>) {
  return fetch(`${issuer}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form(fields) });
}

function authorizeParams(clientId: string, verifier: string, redirectUri = 'http://127.0.0.1:40111/callback') {
  return {
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    code_challenge: s256Challenge(verifier),
    code_challenge_method: 'S256',
    state: 'cimd-state',
    resource: RESOURCE,
  };
}

describe('Client ID Metadata Documents end to end (HTTPS, CA through NODE_EXTRA_CA_CERTS)', () => {
  it('advertises client_id_metadata_document_supported', async () => {
    const metadata = (await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(metadata.client_id_metadata_document_supported).toBe(true);
    expect(metadata.authorization_endpoint).toBe(`${issuer}/oauth/authorize`);
  });

  it('authorization code flow: the document is fetched, its host shown prominently, and the code redeemed by that client_id', async () => {
    const clientId = `${origin}/ide.json`;
    const verifier = randomBytes(40).toString('base64url');
    const agent = await signedInAgent();
    const entry = await agent.get(`/oauth/authorize?${form(authorizeParams(clientId, verifier))}`);
    expect(entry.status, entry.text.slice(0, 300)).toBe(303);
    const begun = await agent.get(entry.location!);
    expect(begun.location).toBe('/device/authorize/confirm');
    const confirm = await agent.get('/device/authorize/confirm');
    expect(confirm.status).toBe(200);
    const host = new URL(origin).host;
    // The heading names the host, not the self-declared name.
    expect(/<h1>([^<]*)<\/h1>/.exec(confirm.html)?.[1]).toContain(host);
    expect(confirm.text).toContain('Friendly IDE');
    const decided = await agent.post('/device/authorize/confirm', { decision: 'approve' });
    const back = new URL(decided.location!);
    expect(back.searchParams.get('iss')).toBe(issuer);
    const response = await post('/oauth/token', {
      grant_type: 'authorization_code',
      client_id: clientId,
      code: back.searchParams.get('code')!,
      code_verifier: verifier,
      redirect_uri: 'http://127.0.0.1:40111/callback',
    });
    const tokens = (await response.json()) as { access_token: string; refresh_token?: string; scope?: string };
    expect(response.status, JSON.stringify(tokens)).toBe(200);
    expect(decodeJwt(tokens.access_token)).toMatchObject({ client_id: clientId, sub: 'alice', aud: RESOURCE });
    expect(tokens.scope).toBe('openid mcp:tools'); // the config's document scope
    expect(tokens.refresh_token).toBeTruthy();
  });

  it('device grant with a device-only document (no redirect_uris): authorize, approve on the pages, poll', async () => {
    const clientId = `${origin}/cli.json`;
    const authorization = await post('/oauth/device/authorize', { client_id: clientId, resource: RESOURCE });
    const codes = (await authorization.json()) as { device_code: string; user_code: string };
    expect(authorization.status, JSON.stringify(codes)).toBe(200);
    const agent = await signedInAgent();
    await agent.get('/device');
    expect((await agent.post('/device', { user_code: codes.user_code })).location).toBe('/device/confirm');
    const confirm = await agent.get('/device/confirm');
    expect(confirm.text).toContain(new URL(origin).host);
    expect((await agent.post('/device/confirm', { decision: 'approve' })).status).toBe(200);
    const response = await post('/oauth/token', { grant_type: DEVICE_GRANT, client_id: clientId, device_code: codes.device_code });
    const tokens = (await response.json()) as { access_token: string };
    expect(response.status, JSON.stringify(tokens)).toBe(200);
    expect(decodeJwt(tokens.access_token)).toMatchObject({ client_id: clientId, aud: RESOURCE });
  });

  it('a device-only document cannot use the authorization endpoint; a code-only one cannot use the device grant', async () => {
    const agent = await signedInAgent();
    const page = await agent.get(`/oauth/authorize?${form(authorizeParams(`${origin}/cli.json`, randomBytes(40).toString('base64url')))}`);
    expect({ status: page.status, location: page.location }).toEqual({ status: 400, location: null });
    const device = await post('/oauth/device/authorize', { client_id: `${origin}/ide.json` });
    expect(device.status).toBe(400);
    expect(((await device.json()) as { error: string }).error).toBe('unauthorized_client');
  });

  it.each([
    ['document client_id mismatch', '/mismatch.json'],
    ['oversized document', '/big.json'],
    ['redirect loop (no redirect is followed)', '/loop.json'],
    ['missing document', '/missing.json'],
  ])('%s → invalid_client on the error page, never redirected', async (_, path) => {
    const agent = await signedInAgent();
    const page = await agent.get(`/oauth/authorize?${form(authorizeParams(`${origin}${path}`, randomBytes(40).toString('base64url')))}`);
    expect({ status: page.status, location: page.location }).toEqual({ status: 401, location: null });
    expect(page.html).toContain('data-error="invalid_client"');
  });

  it('a request too large for the session cookie is refused (invalid_request sent back), never a silently dropped cookie', async () => {
    const clientId = `${origin}/ide.json?pad=${'p'.repeat(1_700)}`;
    const agent = await signedInAgent();
    const params = { ...authorizeParams(clientId, randomBytes(40).toString('base64url')), state: 's'.repeat(1_000) };
    const page = await agent.get(`/oauth/authorize?${form(params)}`);
    expect(page.status).toBe(303);
    const back = new URL(page.location!);
    expect(back.searchParams.get('error')).toBe('invalid_request');
    expect(back.searchParams.get('error_description')).toMatch(/too large/);
    expect(back.searchParams.get('state')).toBe(params.state);
  });

  it('a private address → invalid_client (SSRF: never fetched), at the authorization and token endpoints', async () => {
    const agent = await signedInAgent();
    const page = await agent.get(`/oauth/authorize?${form(authorizeParams('https://10.0.0.7/client.json', randomBytes(40).toString('base64url')))}`);
    expect({ status: page.status, location: page.location }).toEqual({ status: 401, location: null });
    expect(page.html).toContain('data-error="invalid_client"');
    const device = await post('/oauth/device/authorize', { client_id: 'https://192.168.1.1/client.json' });
    expect(device.status).toBe(401);
    expect(((await device.json()) as { error: string }).error).toBe('invalid_client');
  });
});
