import { expect } from 'vitest';

/**
 * A browser stand-in for the verification pages over fetch: a tiny cookie jar (name → value, with
 * the cookie's Path honoured and Max-Age=0 deleting), redirects not followed (the tests check every
 * 303), and the CSRF token of the last HTML page remembered for the next form.
 */
export interface PageResponse {
  readonly status: number;
  readonly headers: Headers;
  /** Location of a redirect, as sent. */
  readonly location: string | null;
  readonly setCookies: string[];
  readonly html: string;
  /** The page's text without tags, entities decoded, whitespace collapsed. */
  readonly text: string;
}

export class Agent {
  private readonly jar = new Map<string, { value: string; path: string }>();
  /** The CSRF token of the last page that carried one. */
  csrf: string | undefined;

  constructor(
    readonly baseUrl: string,
    private readonly headers: Record<string, string> = {},
  ) {}

  /** The raw value of a cookie in the jar. */
  cookie(name: string): string | undefined {
    return this.jar.get(name)?.value;
  }

  setCookie(name: string, value: string, path = '/device'): void {
    this.jar.set(name, { value, path });
  }

  get(path: string, headers: Record<string, string> = {}): Promise<PageResponse> {
    return this.request(path, { method: 'GET', headers });
  }

  /** A form POST; `csrf` defaults to the token of the last page (pass null to send none). */
  post(path: string, fields: Record<string, string>, options: { csrf?: string | null; headers?: Record<string, string> } = {}) {
    const body = new URLSearchParams(fields);
    const csrf = options.csrf === undefined ? this.csrf : options.csrf;
    if (csrf !== null && csrf !== undefined) body.set('csrf', csrf);
    return this.request(path, { method: 'POST', body, headers: options.headers ?? {} });
  }

  async request(path: string, init: { method: string; body?: URLSearchParams; headers: Record<string, string> }): Promise<PageResponse> {
    const headers = new Headers({ ...this.headers, ...init.headers });
    const cookies = [...this.jar].filter(([, c]) => pathMatches(path, c.path)).map(([name, c]) => `${name}=${c.value}`);
    if (cookies.length) headers.set('cookie', cookies.join('; '));
    const response = await fetch(new URL(path, this.baseUrl), {
      method: init.method,
      headers,
      ...(init.body && { body: init.body }),
      redirect: 'manual',
    });
    const setCookies = response.headers.getSetCookie();
    for (const line of setCookies) this.store(line);
    const html = await response.text();
    const csrf = /name="csrf" value="([^"]*)"/.exec(html)?.[1];
    if (csrf) this.csrf = csrf;
    return { status: response.status, headers: response.headers, location: response.headers.get('location'), setCookies, html, text: visibleText(html) };
  }

  private store(line: string): void {
    const [pair = '', ...attributes] = line.split(';').map((part) => part.trim());
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    const attr = (key: string) => attributes.find((a) => a.toLowerCase().startsWith(`${key.toLowerCase()}=`))?.split('=')[1];
    if (attr('Max-Age') === '0' || value === '') this.jar.delete(name);
    else this.jar.set(name, { value, path: attr('Path') ?? '/' });
  }
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  const path = new URL(requestPath, 'http://x').pathname;
  return path === cookiePath || path.startsWith(cookiePath.endsWith('/') ? cookiePath : `${cookiePath}/`);
}

export function visibleText(html: string): string {
  return html
    .replace(/<head>[\s\S]*?<\/head>/, ' ')
    .replace(/<\/?(?:a|b|code|em|i|span|strong)\b[^>]*>/g, '') // inline: no word break
    .replace(/<[^>]+>/g, ' ')
    .replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)))
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The `role="alert"` message of a page, as text. */
export function alertText(html: string): string | undefined {
  const match = /<p[^>]*role="alert"[^>]*>([\s\S]*?)<\/p>/.exec(html);
  return match ? visibleText(match[1]!) : undefined;
}

/** The value="" of the input with this id, entities decoded. */
export function inputValue(html: string, id: string): string | undefined {
  const tag = new RegExp(`<input[^>]*\\bid="${id}"[^>]*>`).exec(html)?.[0];
  const raw = tag ? /\bvalue="([^"]*)"/.exec(tag)?.[1] : undefined;
  return raw === undefined ? undefined : raw.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));
}

/** The session cookie's signed payload: base64url(JSON) before the dot. */
export function sessionPayload(cookieValue: string | undefined): { id: string; subject: string | null; userCode: string | null; expiresAt: number } {
  expect(cookieValue, 'a session cookie').toBeDefined();
  const [payload] = cookieValue!.split('.');
  return JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8'));
}

/** `WDJB-MJHT` → `wdjbmjht`: how a person might type it. */
export function sloppy(userCode: string): string {
  return userCode.replace('-', '').toLowerCase();
}
