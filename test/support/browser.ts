import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { TEST_USERS } from './server.js';

/** Debian's chromium (no browser download is possible here); DEVICEGATE_TEST_CHROMIUM points elsewhere. */
export const CHROMIUM = process.env.DEVICEGATE_TEST_CHROMIUM ?? '/usr/bin/chromium';

/** Browser tests never skip: without Chromium they fail with the command that installs it. */
export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: run \`npm test\` (it installs it as root) or \`sudo apt-get install -y chromium\``);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * What a person does on a phone: opens verification_uri_complete, checks the pre-filled code,
 * Continue, signs in, then Approve or Deny on the confirmation page; by accessibility roles and names.
 */
export async function decideInBrowser(
  browser: Browser,
  verificationUriComplete: string,
  decision: 'Approve' | 'Deny',
  username: keyof typeof TEST_USERS = 'alice',
): Promise<void> {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, javaScriptEnabled: false });
  try {
    const page = await context.newPage();
    await page.goto(verificationUriComplete);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(TEST_USERS[username]);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: decision }).click();
    await page.getByRole('heading', { level: 1, name: decision === 'Approve' ? 'Device connected' : 'Request denied' }).waitFor();
  } finally {
    await context.close();
  }
}
