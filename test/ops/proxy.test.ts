import { createServer, request as httpRequest, type Server } from 'node:http';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { systemClock } from '../../src/domain/clock.js';
import { clientIpResolver, parseProxyTrust, type ProxyTrust } from '../../src/http/client-ip.js';
import { type RunningServer, startServer } from '../../src/server.js';
import { Agent } from '../ui/agent.js';
import { form, TEST_USERS, testConfig, testStores } from '../support/server.js';

function resolver(value: string) {
  const trust = parseProxyTrust(value);
  if ('error' in trust) throw new Error(trust.error);
  return clientIpResolver(trust);
}

describe('TRUST_PROXY: the client IP is the first untrusted hop from the right', () => {
  it('false: the socket address, whatever X-Forwarded-For says', () => {
    expect(resolver('false')('10.0.0.5', '1.2.3.4')).toBe('10.0.0.5');
    expect(resolver('0')('::ffff:10.0.0.5', undefined)).toBe('10.0.0.5');
  });

  it('1 hop (and true, its alias): the entry our proxy appended, never the forged leftmost', () => {
    for (const value of ['1', 'true']) {
      const ip = resolver(value);
      expect(ip('10.0.0.2', '6.6.6.6, 203.0.113.9')).toBe('203.0.113.9');
      expect(ip('10.0.0.2', '203.0.113.9')).toBe('203.0.113.9');
      expect(ip('10.0.0.2', undefined)).toBe('10.0.0.2'); // reached us without the proxy's header
    }
  });

  it('2 hops: two proxies appended, the client is the second from the right', () => {
    expect(resolver('2')('10.0.0.2', '6.6.6.6, 203.0.113.9, 10.0.0.1')).toBe('203.0.113.9');
    expect(resolver('2')('10.0.0.2', '10.0.0.1')).toBe('10.0.0.1'); // fewer entries than hops: the leftmost there is
  });

  it('a garbage entry where the client should be falls back to the socket address', () => {
    expect(resolver('1')('10.0.0.2', '1.2.3.4, not-an-ip')).toBe('10.0.0.2');
  });

  it('CIDRs: skips trusted proxies from the right; a peer outside them is the client itself', () => {
    const ip = resolver('10.0.0.0/8, 192.168.1.1, fd00::/8');
    expect(ip('10.1.2.3', '6.6.6.6, 203.0.113.9, 10.9.9.9')).toBe('203.0.113.9');
    expect(ip('::ffff:10.1.2.3', '203.0.113.9:5555, 192.168.1.1')).toBe('203.0.113.9');
    expect(ip('fd00::1', '2001:db8::7')).toBe('2001:db8::7');
    expect(ip('198.51.100.1', '10.0.0.1')).toBe('198.51.100.1'); // not our proxy: its header is ignored
    expect(ip('10.1.2.3', '10.0.0.7')).toBe('10.0.0.7'); // all trusted: the leftmost
  });

  it('rejects values that are neither a boolean, a hop count nor CIDRs, naming the variable', () => {
    expect(() => loadConfig({ TRUST_PROXY: 'yes' })).toThrow(ConfigError);
    expect(() => loadConfig({ TRUST_PROXY: '10.0.0.0/33' })).toThrow(/TRUST_PROXY/);
    expect(loadConfig({ TRUST_PROXY: '2' }).trustProxy).toEqual({ kind: 'hops', hops: 2 });
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).toEqual({ kind: 'hops', hops: 1 });
    expect(loadConfig({}).trustProxy).toEqual({ kind: 'none' });
  });
});

/** An appending reverse proxy, like nginx's `$proxy_add_x_forwarded_for`. */
function appendingProxy(target: string): Promise<{ url: string; server: Server }> {
  const upstream = new URL(target);
  const server = createServer((req, res) => {
    const seen = req.socket.remoteAddress ?? '';
    const previous = req.headers['x-forwarded-for'];
    const headers = { ...req.headers, 'x-forwarded-for': previous ? `${previous}, ${seen}` : seen };
    const forwarded = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forwarded.on('error', () => res.writeHead(502).end());
    req.pipe(forwarded);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const address = server.address() as { port: number };
    resolve({ url: `http://127.0.0.1:${address.port}`, server });
  }));
}

describe('behind an appending proxy with TRUST_PROXY=1', () => {
  let devicegate: RunningServer;
  let proxy: { url: string; server: Server };

  beforeAll(async () => {
    const config = await testConfig({ trustProxy: { kind: 'hops', hops: 1 } satisfies ProxyTrust });
    devicegate = await startServer(config, { stores: await testStores('memory', systemClock), logger: pino({ level: 'silent' }) });
    proxy = await appendingProxy(devicegate.url);
  });
  afterAll(async () => {
    await new Promise((resolve) => proxy.server.close(resolve));
    await devicegate.close();
  });

  // First: the limit test below uses up 127.0.0.1's code-entry budget, and the person here comes from 127.0.0.1 too.
  it('the confirmation page shows the address the proxy saw, not the forged one', async () => {
    const authorization = await fetch(`${proxy.url}/oauth/device/authorize`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '203.0.113.66' },
      body: form({ client_id: 'demo-cli', scope: 'openid' }),
    });
    expect(authorization.status).toBe(200);
    const { user_code: userCode } = (await authorization.json()) as { user_code: string };

    // The person signs in directly (no proxy, no header): the page must show what the proxy recorded.
    const person = new Agent(devicegate.url);
    await person.get('/device/sign-in');
    await person.post('/device/sign-in', { username: 'alice', password: TEST_USERS.alice });
    await person.get('/device');
    const entered = await person.post('/device', { user_code: userCode });
    expect(entered.status).toBe(303);
    const confirmation = await person.get('/device/confirm');
    expect(confirmation.status).toBe(200);
    expect(confirmation.text).toContain('127.0.0.1');
    expect(confirmation.text).not.toContain('203.0.113.66');
  });

  it('a rotating forged leftmost X-Forwarded-For does not escape the code-entry limit (RFC 8628 §5.1)', async () => {
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 14; attempt++) {
      const agent = new Agent(proxy.url, { 'x-forwarded-for': `198.51.100.${attempt + 1}` });
      await agent.get('/device');
      const answer = await agent.post('/device', { user_code: 'BCDF-GHJK' });
      statuses.push(answer.status);
    }
    // The default limit is 10 failed entries per IP: every attempt came from the proxy's client, 127.0.0.1.
    expect(statuses.slice(0, 10).every((status) => status !== 429)).toBe(true);
    expect(statuses.slice(10)).toEqual([429, 429, 429, 429]);
  });
});
