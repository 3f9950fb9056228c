import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientMetadataFetcher } from '../../src/cimd/fetch-client-metadata.js';
import { ClientMetadataError } from '../../src/domain/client-metadata-document.js';
import { type DocumentServer, makeTestCertificates, startDocumentServer } from './https-fixture.js';

/**
 * The fetcher against a real local HTTPS server whose certificate is signed by a CA made for the test.
 * That CA is trusted the way an operator would trust it, through NODE_EXTRA_CA_CERTS — which Node
 * reads only at process start — so the fetching runs in a child process (fetch-child.ts) started with
 * it; this process serves the documents, counts requests and checks the outcomes.
 */
type Outcome =
  | { ok: true; client: Record<string, unknown>; ms: number }
  | { ok: false; reason: string; message: string; ms: number; unexpected?: string };

const STEPS = [
  { name: 'good', url: 'https://cimd.test:{port}/good.json' },
  { name: 'good again (cached)', url: 'https://cimd.test:{port}/good.json' },
  { name: 'device-only', url: 'https://cimd.test:{port}/device-only.json' },
  { name: 'mismatch', url: 'https://cimd.test:{port}/mismatch.json' },
  { name: 'big', url: 'https://cimd.test:{port}/big.json' },
  { name: 'big chunked', url: 'https://cimd.test:{port}/big-chunked.json' },
  { name: 'redirect loop', url: 'https://cimd.test:{port}/loop.json' },
  { name: 'slow', url: 'https://cimd.test:{port}/slow.json' },
  { name: 'html', url: 'https://cimd.test:{port}/page.html' },
  { name: 'not json', url: 'https://cimd.test:{port}/not-json.json' },
  { name: 'array', url: 'https://cimd.test:{port}/array.json' },
  { name: 'missing', url: 'https://cimd.test:{port}/missing.json' },
  { name: 'secret', url: 'https://cimd.test:{port}/secret.json' },
  { name: 'basic auth', url: 'https://cimd.test:{port}/basic.json' },
  { name: 'private address by DNS', url: 'https://private.test:{port}/good.json' },
  { name: 'IPv4-mapped private address by DNS', url: 'https://mapped.test:{port}/good.json' },
  { name: 'CGNAT address by DNS', url: 'https://cgnat.test:{port}/good.json' },
  { name: 'one private answer among several', url: 'https://mixed.test:{port}/good.json' },
  { name: 'unknown host', url: 'https://nowhere.test:{port}/good.json' },
  { name: 'loopback refused without allow_loopback', url: 'https://cimd.test:{port}/counted.json', fetcher: 'strict' },
  { name: 'loopback literal refused without allow_loopback', url: 'https://127.0.0.1:{port}/counted.json', fetcher: 'strict' },
  { name: 'flaky: first 500', url: 'https://cimd.test:{port}/flaky.json' },
  { name: 'flaky: failure remembered', url: 'https://cimd.test:{port}/flaky.json', advanceMs: 1_000 },
  { name: 'flaky: retried after the failure cache', url: 'https://cimd.test:{port}/flaky.json', advanceMs: 5_000 },
  { name: 'counted', url: 'https://cimd.test:{port}/counted.json' },
  { name: 'counted within max-age', url: 'https://cimd.test:{port}/counted.json', advanceMs: 100_000 },
  { name: 'counted after max-age', url: 'https://cimd.test:{port}/counted.json', advanceMs: 21_000 },
  { name: 'no-store', url: 'https://cimd.test:{port}/no-store.json' },
  { name: 'no-store within the 60 s minimum', url: 'https://cimd.test:{port}/no-store.json', advanceMs: 59_000 },
  { name: 'no-store after the minimum', url: 'https://cimd.test:{port}/no-store.json', advanceMs: 2_000 },
] as const;

let certificates: ReturnType<typeof makeTestCertificates>;
let server: DocumentServer;
let outcomes: Record<string, Outcome>;

beforeAll(async () => {
  certificates = makeTestCertificates();
  server = await startDocumentServer(certificates.key, certificates.cert);
  const child = fileURLToPath(new URL('./fetch-child.ts', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', child, JSON.stringify({ port: server.port, steps: STEPS })], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: certificates.caPath },
    timeout: 60_000,
  });
  outcomes = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, Outcome>;
}, 90_000);
afterAll(async () => {
  await server?.close();
});

const outcome = (name: (typeof STEPS)[number]['name']) => outcomes[name]!;
const refusal = (name: (typeof STEPS)[number]['name']) => {
  const result = outcome(name);
  expect(result.ok, JSON.stringify(result)).toBe(false);
  return result as Extract<Outcome, { ok: false }>;
};

describe('Client ID Metadata Documents over real HTTPS (CA trusted through NODE_EXTRA_CA_CERTS)', () => {
  it('resolves a good document into a client', () => {
    const result = outcome('good');
    expect(result.ok, JSON.stringify(result)).toBe(true);
    expect((result as Extract<Outcome, { ok: true }>).client).toEqual({
      clientId: `https://cimd.test:${server.port}/good.json`,
      host: `cimd.test:${server.port}`,
      clientName: 'Example MCP Host',
      redirectUris: ['http://127.0.0.1/callback', 'https://app.example.com/callback'],
      grantTypes: ['authorization_code', 'refresh_token'],
      tokenEndpointAuthMethod: 'none',
    });
    expect(outcome('good again (cached)')).toMatchObject({ ok: true });
    expect(server.hits.get('/good.json')).toBe(1);
  });

  it('resolves a device-only document without redirect_uris', () => {
    expect(outcome('device-only')).toMatchObject({
      ok: true,
      client: { redirectUris: [], grantTypes: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'] },
    });
  });

  it('refuses a document whose client_id is not its URL', () => {
    expect(refusal('mismatch').reason).toBe('client_id_mismatch');
  });

  it('refuses an oversized document, by Content-Length and while streaming', () => {
    expect(refusal('big').reason).toBe('too_large');
    expect(refusal('big chunked').reason).toBe('too_large');
  });

  it('follows no redirect: a redirect loop is a refusal after one request', () => {
    expect(refusal('redirect loop').reason).toBe('redirect');
    expect(server.hits.get('/loop.json')).toBe(1);
  });

  it('gives up on a server that never finishes, at the time limit', () => {
    const result = refusal('slow');
    expect(result.reason).toBe('timeout');
    // 1.5 s limit in the child; generous upper bound for a loaded machine.
    expect(result.ms).toBeGreaterThanOrEqual(1_400);
    expect(result.ms).toBeLessThan(15_000);
  });

  it('refuses non-JSON content and bodies', () => {
    expect(refusal('html').reason).toBe('wrong_content_type');
    expect(refusal('not json').reason).toBe('not_json');
    expect(refusal('array').reason).toBe('not_json');
    expect(refusal('missing').reason).toBe('bad_status');
  });

  it('refuses documents that would make a confidential client', () => {
    expect(refusal('secret').reason).toBe('invalid_document');
    expect(refusal('basic auth').reason).toBe('invalid_document');
  });

  it('refuses private addresses found by DNS, before connecting', () => {
    for (const name of ['private address by DNS', 'IPv4-mapped private address by DNS', 'CGNAT address by DNS', 'one private answer among several'] as const) {
      const result = refusal(name);
      expect(result.reason, name).toBe('forbidden_address');
    }
    expect(refusal('private address by DNS').message).toContain('10.0.0.7');
    expect(refusal('unknown host').reason).toBe('fetch_failed');
  });

  it('refuses loopback unless allow_loopback is on', () => {
    expect(refusal('loopback refused without allow_loopback').reason).toBe('forbidden_address');
    expect(refusal('loopback literal refused without allow_loopback').reason).toBe('forbidden_address');
  });

  it('remembers a failure for a few seconds only', () => {
    expect(refusal('flaky: first 500').reason).toBe('bad_status');
    expect(refusal('flaky: failure remembered').reason).toBe('bad_status');
    expect(outcome('flaky: retried after the failure cache')).toMatchObject({ ok: true });
    expect(server.hits.get('/flaky.json')).toBe(2);
  });

  it('caches by max-age, and treats no-store as the 60 s minimum', () => {
    expect(outcome('counted')).toMatchObject({ ok: true });
    expect(outcome('counted within max-age')).toMatchObject({ ok: true });
    expect(outcome('counted after max-age')).toMatchObject({ ok: true });
    // The strict fetcher never connected, so only the loopback fetcher's two fetches arrived.
    expect(server.hits.get('/counted.json')).toBe(2);
    expect(outcome('no-store within the 60 s minimum')).toMatchObject({ ok: true });
    expect(outcome('no-store after the minimum')).toMatchObject({ ok: true });
    expect(server.hits.get('/no-store.json')).toBe(2);
  });
});

describe('in this process (the test CA is not trusted here)', () => {
  it('fails on an untrusted certificate', async () => {
    const fetcher = new ClientMetadataFetcher({ allowLoopback: true });
    try {
      const error = await fetcher.resolve(`https://127.0.0.1:${server.port}/good.json`).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ClientMetadataError);
      expect((error as ClientMetadataError).reason).toBe('fetch_failed');
    } finally {
      await fetcher.close();
    }
  });

  it('refuses loopback and private IP literals without connecting', async () => {
    const fetcher = new ClientMetadataFetcher();
    const before = server.hits.get('/good.json') ?? 0;
    try {
      for (const host of ['127.0.0.1', '[::1]', '[::ffff:7f00:1]', '[::ffff:a01:203]', '10.1.2.3', '[fd00::1]', '169.254.169.254', '0.0.0.0']) {
        const port = host === '127.0.0.1' ? `:${server.port}` : '';
        const error = await fetcher.resolve(`https://${host}${port}/good.json`).catch((e: unknown) => e);
        expect((error as ClientMetadataError).reason, host).toBe('forbidden_address');
      }
      expect(server.hits.get('/good.json') ?? 0).toBe(before);
    } finally {
      await fetcher.close();
    }
  });

  it('refuses client ids that are not document URLs before any fetch', async () => {
    const fetcher = new ClientMetadataFetcher();
    try {
      for (const clientId of ['http://example.com/client.json', 'https://example.com', 'https://example.com/', 'https://example.com/a/../b', 'https://u:p@example.com/c', 'https://example.com/c#f']) {
        const error = await fetcher.resolve(clientId).catch((e: unknown) => e);
        expect((error as ClientMetadataError).reason, clientId).toBe('invalid_client_id_url');
      }
    } finally {
      await fetcher.close();
    }
  });
});
