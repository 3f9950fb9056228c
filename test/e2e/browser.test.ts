import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decodeJwt } from 'jose';
import * as client from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigFile } from '../../src/config.js';
import { DeviceGateClient, type DeviceAuthorizationResponse } from '../../src/sdk/index.js';
import type { RunningServer } from '../../src/server.js';
import { launchChromium } from '../support/browser.js';
import { DEVICE_GRANT, startRealTimeTestServer, startTestServer, TEST_USERS, testConfigFile } from '../support/server.js';

/**
 * The person's side in a real browser: headless Debian Chromium driven through playwright-core by
 * accessibility roles and names only, while a real RFC 8628 client (openid-client) polls. The pages
 * have no script at all, so every context runs with JavaScript disabled: that is what they promise.
 *
 * Without /usr/bin/chromium the file fails naming the install command (`npm test` installs it first);
 * DEVICEGATE_TEST_CHROMIUM points at another binary.
 */

const SCREENSHOTS = fileURLToPath(new URL('../../test-artifacts/screenshots/', import.meta.url));
const WIDTHS = [390, 1280] as const;
const SCOPE_WORDS = { 'mcp:tools': 'Use MCP tools on your behalf' };
const PHONE = { width: 390, height: 844 };

// A real browser and real-time polling: more headroom than the 20 s default when CI runs files in parallel.
describe('verification pages in headless Chromium', { timeout: 60_000 }, () => {
  let browser: Browser;
  let server: RunningServer;
  let context: BrowserContext;
  let page: Page;
  /** Console errors (CSP violations would show here) and failed page loads of the current test. */
  let problems: string[];

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    browser = await launchChromium();
    server = await startRealTimeTestServer('memory');
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /** A fresh browser profile (no cookies), phone-sized, JavaScript off. */
  async function openBrowser(options: { colorScheme?: 'light' | 'dark' } = {}): Promise<Page> {
    context = await browser.newContext({ viewport: PHONE, javaScriptEnabled: false, locale: 'en-GB', ...options });
    page = await context.newPage();
    problems = [];
    page.on('console', (message) => {
      // A 4xx page (wrong code, limit) and the absent /favicon.ico are logged as "Failed to load
      // resource"; the statuses are checked on their own. Anything else (a CSP violation) is a problem.
      if (message.text().startsWith('Failed to load resource')) return;
      if (message.type() === 'error' || message.type() === 'warning') problems.push(`console ${message.type()}: ${message.text()}`);
    });
    page.on('response', (response) => {
      const url = new URL(response.url());
      if (response.status() >= 500 || (url.pathname.startsWith('/device') && response.status() === 404)) {
        problems.push(`${response.status()} ${url.pathname}`);
      }
    });
    return page;
  }
  afterEach(async () => {
    await context?.close();
  });

  /** The page at 390 px and 1280 px, full length; checks nothing overflows sideways at either width. */
  async function screenshot(name: string): Promise<void> {
    await page.waitForLoadState('load');
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: width === 390 ? 844 : 800 });
      await page.screenshot({ path: `${SCREENSHOTS}${name}-${width}.png`, fullPage: true });
      const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
      expect(scrollWidth, `${name} at ${width} px scrolls sideways`).toBeLessThanOrEqual(width);
    }
    await page.setViewportSize(PHONE);
  }

  const sdk = () => new DeviceGateClient({ baseUrl: server.url });
  const authorize = () =>
    sdk().deviceAuthorization({ client_id: 'fast-cli', scope: 'openid mcp:tools', resource: ['https://mcp.example.com/'] });

  /** openid-client polling the token endpoint (every second for fast-cli) until the person decides. */
  async function startPoller(codes: DeviceAuthorizationResponse) {
    const config = await client.discovery(new URL(server.url), 'fast-cli', undefined, client.None(), {
      algorithm: 'oauth2', // RFC 8414 metadata; devicegate is not an OpenID Provider
      execute: [client.allowInsecureRequests],
    });
    const abort = new AbortController();
    const result = client.pollDeviceAuthorizationGrant(config, codes, undefined, { signal: abort.signal });
    result.catch(() => {}); // observed by the test; never an unhandled rejection if the test fails first
    return { result, stop: () => abort.abort() };
  }

  const grant = (codes: DeviceAuthorizationResponse, on = server) => on.stores.grants.findByUserCode(codes.user_code.replace('-', ''));
  const codeField = () => page.getByRole('textbox', { name: 'Code', exact: true });
  const heading = (name: string | RegExp) => page.getByRole('heading', { level: 1, name });

  /** Username and password by their labels, then the Sign in button. */
  async function signIn(username: keyof typeof TEST_USERS = 'alice'): Promise<void> {
    await heading('Sign in').waitFor();
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(TEST_USERS[username]);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  /** The confirmation page shows what the person must check (RFC 8628 §5.4). */
  async function expectConfirmation(codes: DeviceAuthorizationResponse): Promise<void> {
    await heading('Allow Fast CLI to access your account?').waitFor();
    const text = await page.getByRole('main').innerText();
    expect(text).toContain(codes.user_code);
    expect(text).toContain('Fast CLI');
    expect(text).toContain('Know who you are (your account identifier)');
    expect(text).toContain('Use MCP tools on your behalf');
    expect(text).toContain('https://mcp.example.com/');
    expect(text).toContain('127.0.0.1');
    expect(text).toMatch(/Only continue if you started this yourself/);
    await expect.poll(() => page.getByRole('button', { name: 'Approve' }).isVisible()).toBe(true);
    await expect.poll(() => page.getByRole('button', { name: 'Deny' }).isVisible()).toBe(true);
    // The code in a large monospace font, on the confirmation page as in the form.
    const style = await page.getByText(codes.user_code, { exact: true }).evaluate((el) => getComputedStyle(el));
    expect(style.fontFamily).toMatch(/mono/i);
    expect(Number.parseFloat(style.fontSize)).toBeGreaterThanOrEqual(28);
  }

  it('verification_uri → code in lower case without the dash → sign in → Approve: the poller gets tokens for alice', async () => {
    const codes = await authorize();
    const poller = await startPoller(codes);
    try {
      await openBrowser();
      await page.goto(codes.verification_uri);
      await heading('Connect a device').waitFor();
      await codeField().fill(codes.user_code.replace('-', '').toLowerCase());
      const field = await codeField().evaluate((el) => {
        const style = getComputedStyle(el);
        return { fontFamily: style.fontFamily, fontSize: Number.parseFloat(style.fontSize), width: el.getBoundingClientRect().width };
      });
      expect(field.fontFamily).toMatch(/mono/i);
      expect(field.fontSize).toBeGreaterThanOrEqual(24);
      await screenshot('1-code-entry');
      await page.getByRole('button', { name: 'Continue' }).click();

      await expect.poll(() => new URL(page.url()).pathname).toBe('/device/sign-in');
      await page.getByLabel('Username').fill('alice');
      await screenshot('2-sign-in');
      await signIn('alice');

      await expectConfirmation(codes);
      await screenshot('3-confirmation');
      expect((await grant(codes))?.status).toBe('pending');
      await page.getByRole('button', { name: 'Approve' }).click();
      await heading('Device connected').waitFor();
      expect(await page.getByRole('main').innerText()).toContain('You can return to your terminal');
      await screenshot('4-approved');

      const tokens = await poller.result;
      expect(tokens.scope).toBe('openid mcp:tools');
      expect(decodeJwt(tokens.access_token)).toMatchObject({ sub: 'alice', client_id: 'fast-cli', aud: 'https://mcp.example.com/' });
      expect(problems).toEqual([]);
    } finally {
      poller.stop();
    }
  });

  it('the same with Deny: the poller gets access_denied', async () => {
    const codes = await authorize();
    const poller = await startPoller(codes);
    try {
      await openBrowser();
      await page.goto(codes.verification_uri);
      await codeField().fill(codes.user_code.replace('-', '').toLowerCase());
      await page.getByRole('button', { name: 'Continue' }).click();
      await signIn('bob');
      await expectConfirmation(codes);
      await page.getByRole('button', { name: 'Deny' }).click();
      await heading('Request denied').waitFor();
      await screenshot('5-denied');
      await expect(poller.result).rejects.toMatchObject({ error: 'access_denied' });
      expect(await grant(codes)).toMatchObject({ status: 'denied', subject: null });
      expect(problems).toEqual([]);
    } finally {
      poller.stop();
    }
  });

  it('verification_uri_complete pre-fills the code; the grant stays pending until Continue → sign in → Approve', async () => {
    const codes = await authorize();
    const poller = await startPoller(codes);
    try {
      await openBrowser();
      await page.goto(codes.verification_uri_complete!);
      await heading('Connect a device').waitFor();
      expect(await codeField().inputValue()).toBe(codes.user_code);
      expect(await page.getByRole('main').innerText()).toContain('Check that this is exactly the code your device shows.');
      await screenshot('6-code-prefilled');
      expect(await grant(codes)).toMatchObject({ status: 'pending', subject: null });

      await page.getByRole('button', { name: 'Continue' }).click();
      await signIn('alice');
      await expectConfirmation(codes);
      expect(await grant(codes)).toMatchObject({ status: 'pending', subject: null });
      await page.getByRole('button', { name: 'Approve' }).click();
      await heading('Device connected').waitFor();
      expect(decodeJwt((await poller.result).access_token).sub).toBe('alice');
      expect(problems).toEqual([]);
    } finally {
      poller.stop();
    }
  });

  it('keyboard only: Tab to the code field, Enter submits; Tab through sign-in; Enter on Approve', async () => {
    const codes = await authorize();
    await openBrowser();
    await page.goto(`${server.url}/device`);
    await heading('Connect a device').waitFor();
    const focused = (locator: ReturnType<Page['getByRole']>) => locator.evaluate((el) => el === document.activeElement);
    /** Presses Tab until the element has the focus (at most `limit` times). */
    async function tabTo(locator: ReturnType<Page['getByRole']>, limit = 8): Promise<void> {
      for (let i = 0; i < limit && !(await focused(locator)); i++) await page.keyboard.press('Tab');
      expect(await focused(locator), 'reachable with Tab').toBe(true);
    }
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await tabTo(codeField());
    await page.keyboard.type(codes.user_code.toLowerCase());
    await page.keyboard.press('Enter');

    await heading('Sign in').waitFor();
    await tabTo(page.getByRole('textbox', { name: 'Username' }));
    await page.keyboard.type('alice');
    await page.keyboard.press('Tab');
    expect(await focused(page.getByLabel('Password'))).toBe(true);
    await page.keyboard.type(TEST_USERS.alice);
    await page.keyboard.press('Enter');

    await expectConfirmation(codes);
    await tabTo(page.getByRole('button', { name: 'Approve' }));
    await page.keyboard.press('Enter');
    await heading('Device connected').waitFor();
    expect(await grant(codes)).toMatchObject({ status: 'approved', subject: 'alice' });
    expect(problems).toEqual([]);
  });

  it('long names, scopes, resources and user agents wrap on a phone (and in dark mode)', async () => {
    const base = await testConfigFile({ verification: { scope_descriptions: SCOPE_WORDS } });
    const longName = `Extraordinarily-Long-Client-Name-Without-Any-Spaces-${'X'.repeat(60)}`;
    const resource = `https://mcp.example.com/${'very-long-path-segment/'.repeat(6)}`;
    const file = parseConfigFile(
      JSON.stringify({
        ...base,
        clients: [
          ...base.clients,
          {
            client_id: `long-cli-${'y'.repeat(60)}`,
            client_name: longName,
            grant_types: [DEVICE_GRANT],
            scope: `openid profile offline_access mcp:tools custom:${'z'.repeat(70)}`,
            resources: [resource],
          },
        ],
      }),
    );
    const long = await startTestServer('memory', undefined, undefined, file);
    try {
      const codes = await new DeviceGateClient({
        baseUrl: long.url,
        headers: { 'user-agent': `LongAgent/1.0 (${'KHTML;like-Gecko;'.repeat(12)}) Build/${'9'.repeat(40)}` },
      }).deviceAuthorization({ client_id: `long-cli-${'y'.repeat(60)}`, resource: [resource] });
      await openBrowser({ colorScheme: 'dark' });
      await page.goto(codes.verification_uri_complete!);
      await page.getByRole('button', { name: 'Continue' }).click();
      await signIn('alice');
      await heading(/^Allow Extraordinarily-Long-Client-Name/).waitFor();
      await screenshot('9-confirmation-long-dark');
      expect(problems).toEqual([]);
    } finally {
      await long.close();
    }
  });

  it('too many wrong codes: the limit page says when to try again', async () => {
    const limited = await startTestServer(
      'memory',
      undefined,
      undefined,
      await testConfigFile({
        verification: { scope_descriptions: SCOPE_WORDS, failed_code_entries: { per_ip: 3, per_account: 10, window: 900 } },
      }),
    );
    try {
      await openBrowser();
      await page.goto(`${limited.url}/device`);
      for (const wrong of ['wdjb-mjht', 'bcdf ghjk', 'MNPQRSTV']) {
        await codeField().fill(wrong);
        await page.getByRole('button', { name: 'Continue' }).click();
        await expect.poll(() => page.getByRole('alert').innerText()).toContain('That code is not valid or has expired.');
        expect(await codeField().inputValue()).toBe(wrong.toUpperCase().replace(/[\s-]/g, '').replace(/^(.{4})/, '$1-'));
      }
      await screenshot('7-wrong-code');
      await codeField().fill('WXYZ-2345');
      await page.getByRole('button', { name: 'Continue' }).click();
      await heading('Too many attempts').waitFor();
      expect(await page.getByRole('alert').innerText()).toBe('Too many wrong attempts. Try again in 15 minutes.');
      await screenshot('8-limit');
      expect(problems).toEqual([]);
    } finally {
      await limited.close();
    }
  });
});
