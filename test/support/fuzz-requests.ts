import fc from 'fast-check';
import type { Dispatcher, Pool } from 'undici';
import { endpoints } from '../../src/app/endpoints.js';
import { DEVICE_GRANT } from './server.js';

/** Every route the server has: the OAuth endpoints (from their definitions), the service's own documents, the pages. */
export const OAUTH_ROUTES = Object.values(endpoints).map((endpoint) => ({ method: endpoint.openapi.method, path: endpoint.openapi.path }));
export const OAUTH_PATHS: ReadonlySet<string> = new Set(OAUTH_ROUTES.map((route) => route.path));
export const ALL_ROUTES: readonly { method: string; path: string }[] = [
  ...OAUTH_ROUTES,
  { method: 'GET', path: '/healthz' },
  { method: 'GET', path: '/readyz' },
  { method: 'GET', path: '/metrics' },
  { method: 'GET', path: '/openapi.json' },
  { method: 'GET', path: '/docs' },
  { method: 'GET', path: '/device' },
  { method: 'POST', path: '/device' },
  { method: 'GET', path: '/device/style.css' },
  { method: 'GET', path: '/device/sign-in' },
  { method: 'POST', path: '/device/sign-in' },
  { method: 'GET', path: '/device/confirm' },
  { method: 'POST', path: '/device/confirm' },
  { method: 'POST', path: '/device/sign-out' },
  { method: 'GET', path: '/oauth/authorize' },
  { method: 'POST', path: '/oauth/authorize' },
  { method: 'GET', path: '/device/authorize' },
  { method: 'GET', path: '/device/authorize/confirm' },
  { method: 'POST', path: '/device/authorize/confirm' },
];

export interface FuzzRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer | undefined;
}

const PARAMETER_NAMES = [
  'grant_type', 'client_id', 'client_secret', 'device_code', 'scope', 'resource', 'refresh_token', 'token',
  'token_type_hint', 'user_code', 'username', 'password', 'csrf', 'decision', 'code', 'redirect_uri',
  'response_type', 'code_challenge', 'code_challenge_method', 'code_verifier', 'state',
];

/** Strings an attacker would try: unicode, control characters, huge, percent-escapes, injections, real-looking values. */
const nastyString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '', ' ', '%', '%00', '%zz', '\u0000', '\r\n', '"><script>alert(1)</script>', "' OR 1=1 --", '../../etc/passwd',
    DEVICE_GRANT, 'refresh_token', 'authorization_code', 'client_credentials', 'demo-cli', 'basic-service', 'post-service',
    'openid', 'openid openid', 'https://mcp.example.com/', 'BCDF-GHJK', 'bcdfghjk', 'approve', 'deny', '[]', '{}',
    '__proto__', 'constructor', 'a'.repeat(5_000), '💥'.repeat(100), '\uD800',
    'code', 'S256', 'plain', 'browser-app', 'http://127.0.0.1/callback', 'http://127.0.0.1:1/callback', 'https://10.0.0.1/c.json',
    'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
  ),
);

/** Percent-encodes every byte (encodeURIComponent throws on a lone surrogate; the bytes are what is sent). */
function percentEncode(text: string): string {
  return [...Buffer.from(text, 'utf8')].map((byte) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `%${byte.toString(16).padStart(2, '0')}`)).join('');
}

const formBody = fc
  .array(fc.tuple(fc.oneof(fc.constantFrom(...PARAMETER_NAMES), nastyString), nastyString), { maxLength: 8 })
  .map((pairs) => pairs.map(([name, value]) => `${percentEncode(name)}=${percentEncode(value)}`).join('&'));

const rawBody = fc.oneof(
  formBody.map((text) => Buffer.from(text)),
  fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
  fc.jsonValue().map((value) => Buffer.from(JSON.stringify(value) ?? 'null')),
  fc.constantFrom(Buffer.from('a=%E0%A4%A'), Buffer.from('=&&=&a'), Buffer.from('a'.repeat(70_000)), Buffer.alloc(0)),
);

const contentType = fc.constantFrom(
  undefined, 'application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=utf-8',
  'application/x-www-form-urlencoded; charset=latin1', 'application/json', 'text/plain', 'multipart/form-data; boundary=x',
  'application/x-www-form-urlencoded;;;', '*/*', 'garbage',
);

const basicFor = (ids: string[]) =>
  fc.tuple(fc.constantFrom(...ids), nastyString).map(
    ([id, secret]) => `Basic ${Buffer.from(`${percentEncode(id)}:${percentEncode(secret)}`).toString('base64')}`,
  );

// Confidential clients are rarer: each wrong secret costs a password hash on the server.
const authorization = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: basicFor(['demo-cli', 'nobody', '']) },
  { weight: 1, arbitrary: basicFor(['basic-service', 'post-service']) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('Basic', 'Basic !!!', 'Basic Og==', 'Bearer abc', 'basic ' + Buffer.from('x').toString('base64'), 'Basic ' + 'A'.repeat(10_000)),
  },
);

const printableHeaderValue = fc.string({ maxLength: 60 }).map((text) => text.replace(/[^\x20-\x7E]/g, ''));

/** One request aimed at `route` (or a neighbour: another method, a near path, a query string). */
export function fuzzRequestFor(route: { method: string; path: string }): fc.Arbitrary<FuzzRequest> {
  return fc
    .record({
      method: fc.oneof({ weight: 4, arbitrary: fc.constant(route.method) }, fc.constantFrom('GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH')),
      suffix: fc.oneof({ weight: 4, arbitrary: fc.constant('') }, fc.constantFrom('/', '//', '?', '?a=%', '?user_code=%E0%A4', '/..', '%2F', '?x=' + 'y'.repeat(3_000)), printableHeaderValue.map((q) => `?${percentEncode(q)}`), formBody.map((q) => `?${q}`)),
      body: rawBody,
      contentType,
      authorization,
      cookie: fc.option(fc.oneof(printableHeaderValue, fc.constantFrom('devicegate_session=x.y', 'devicegate_session=' + 'a'.repeat(4_000), 'devicegate_session=eyJ9.AAAA')), { nil: undefined }),
      forwardedFor: fc.option(fc.oneof(fc.ipV4(), fc.ipV6(), printableHeaderValue), { nil: undefined }),
      accept: fc.option(fc.constantFrom('application/json', 'text/html', '*/*', 'garbage'), { nil: undefined }),
    })
    .map(({ method, suffix, body, contentType: type, authorization: auth, cookie, forwardedFor, accept }) => {
      const headers: Record<string, string> = {};
      if (type) headers['content-type'] = type;
      if (auth) headers.authorization = auth;
      if (cookie) headers.cookie = cookie;
      if (forwardedFor) headers['x-forwarded-for'] = forwardedFor;
      if (accept) headers.accept = accept;
      const sendsBody = method !== 'GET' && method !== 'HEAD';
      return { method, path: route.path + suffix, headers, body: sendsBody ? body : undefined };
    });
}

export interface FuzzAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  /** No answer within the time limit, or the connection failed. */
  readonly hung: boolean;
}

export async function send(pool: Pool, request: FuzzRequest, timeoutMs = 5_000): Promise<FuzzAnswer> {
  try {
    const response = await pool.request({
      method: request.method as Dispatcher.HttpMethod,
      path: request.path,
      headers: request.headers,
      body: request.body,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const body = await response.body.text();
    return { status: response.statusCode, contentType: String(response.headers['content-type'] ?? ''), body, hung: false };
  } catch (error) {
    return { status: 0, contentType: '', body: String(error), hung: true };
  }
}

const RFC6749_ERROR = /^[\x20\x21\x23-\x5B\x5D-\x7E]+$/;

/** What an answer must never be: a 5xx, a hang, or (on an OAuth route) anything but an RFC 6749 §5.2 JSON body. */
export function violations(request: FuzzRequest, answer: FuzzAnswer): string[] {
  const found: string[] = [];
  const path = request.path.split('?')[0]!;
  if (answer.hung) found.push(`hang: ${answer.body}`);
  // /readyz answers 503 by contract while the store is unreachable or the instance drains.
  else if (answer.status >= 500 && !(path === '/readyz' && answer.status === 503)) found.push(`status ${answer.status}`);
  if (!answer.hung && OAUTH_PATHS.has(path) && request.method !== 'HEAD') {
    if (!answer.contentType.startsWith('application/json')) found.push(`non-JSON ${answer.contentType}`);
    else {
      let body: unknown;
      try {
        body = JSON.parse(answer.body);
      } catch {
        found.push('unparseable JSON');
      }
      if (answer.status >= 400 && body !== undefined) {
        const { error, error_description: description } = body as { error?: unknown; error_description?: unknown };
        if (typeof error !== 'string' || !RFC6749_ERROR.test(error)) found.push(`bad error ${JSON.stringify(error)}`);
        if (description !== undefined && (typeof description !== 'string' || !RFC6749_ERROR.test(description))) found.push('bad error_description');
      }
    }
  }
  return found;
}
