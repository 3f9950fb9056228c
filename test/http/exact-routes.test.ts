import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import parseUrl from 'parseurl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatch, ExactRoutes } from '../../src/http/exact-routes.js';
import { Exchange } from '../../src/http/exchange.js';
import { expectOAuthError, useTestServer } from '../support/oauth.js';
import { DEVICE_GRANT, form } from '../support/server.js';

describe('ExactRoutes', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    const routes = new ExactRoutes()
      .add('GET', '/doc', (exchange) => {
        exchange.json({ doc: true });
      })
      .add('POST', '/act', async (exchange) => {
        exchange.json({ acted: true });
      });
    server = createServer(async (req, res) => {
      const path = parseUrl(req)?.pathname ?? '';
      const exchange = new Exchange(req, res, path, '127.0.0.1', 'test');
      const route = routes.get(path);
      try {
        if (route) await dispatch(route, exchange);
        else exchange.json({ fellThrough: path });
      } catch (error) {
        exchange.status = (error as { status: number }).status;
        exchange.json({ thrown: (error as Error).message });
      }
      exchange.send();
    }).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('runs the handler of an exact path and method', async () => {
    expect(await (await fetch(`${base}/doc`)).json()).toEqual({ doc: true });
    expect(await (await fetch(`${base}/act`, { method: 'POST' })).json()).toEqual({ acted: true });
  });

  it('answers HEAD on a GET route with its headers and no body', async () => {
    const response = await fetch(`${base}/doc`, { method: 'HEAD' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await response.text()).toBe('');
  });

  it.each([
    ['GET', '/act', 'POST'],
    ['PUT', '/doc', 'GET, HEAD'],
    ['HEAD', '/act', 'POST'],
  ])('%s %s → 405 with Allow: %s', async (method, path, allow) => {
    const response = await fetch(`${base}${path}`, { method });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe(allow);
  });

  it('matches the path, not the query string', async () => {
    expect(await (await fetch(`${base}/doc?x=/act`)).json()).toEqual({ doc: true });
  });

  it.each(['/doc/', '/DOC', '/doc/x', '/do'])('does not match %s (exact, case-sensitive)', async (path) => {
    const response = await fetch(`${base}${path}`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { fellThrough: string }).fellThrough).toBe(new URL(path, base).pathname);
  });

  it('refuses to define a path twice', () => {
    expect(() => new ExactRoutes().add('GET', '/x', () => {}).add('POST', '/x', () => {})).toThrow(/already defined/);
  });
});

describe('the OAuth endpoints are at their published paths only', () => {
  const server = useTestServer('memory');

  it.each(['/oauth/token/', '/OAUTH/TOKEN', '/oauth//token'])('POST %s → 404 invalid_request', async (path) => {
    const response = await fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form({ grant_type: DEVICE_GRANT, client_id: 'cli', device_code: 'x' }),
    });
    expect(await expectOAuthError(response, 404, 'invalid_request')).toContain('no endpoint');
  });
});
