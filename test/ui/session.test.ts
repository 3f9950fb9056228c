import { randomBytes } from 'node:crypto';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import Koa, { type Context } from 'koa';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.js';
import { type Session, SessionCookies } from '../../src/ui/session.js';

const TTL = 3_600;

/** A real Koa context for a request carrying this Cookie header; `setCookies()` reads the response. */
function context(cookie?: string): { ctx: Context; setCookies: () => string[] } {
  const req = new IncomingMessage(new Socket());
  req.method = 'GET';
  req.url = '/device';
  req.headers = { host: 'auth.example.com', ...(cookie !== undefined && { cookie }) };
  const res = new ServerResponse(req);
  const ctx = new Koa().createContext(req, res);
  return { ctx, setCookies: () => [res.getHeader('set-cookie') ?? []].flat().map(String) };
}

function cookies(secure = false, clock = new ManualClock(), key = randomBytes(32)) {
  return { sessions: new SessionCookies({ key, clock, ttlSeconds: TTL, secure }), clock, key };
}

/** Writes the session and returns the cookie header a browser would send back. */
function roundTrip(sessions: SessionCookies, session: Session): string {
  const { ctx, setCookies } = context();
  sessions.write(ctx, session);
  const [line] = setCookies();
  return line!.split(';')[0]!;
}

describe('SessionCookies', () => {
  it('on http: cookie "devicegate", HttpOnly, SameSite=Lax, Path=/device, Max-Age of the TTL, no Secure', () => {
    const { sessions } = cookies(false);
    const { ctx, setCookies } = context();
    sessions.write(ctx, sessions.anonymous());
    expect(sessions.cookieName).toBe('devicegate');
    const [line] = setCookies();
    const [pair, ...attributes] = line!.split('; ');
    expect(pair).toMatch(/^devicegate=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(attributes.sort()).toEqual(['HttpOnly', `Max-Age=${TTL}`, 'Path=/device', 'SameSite=Lax']);
  });

  it('on https: cookie "__Secure-devicegate" with Secure', () => {
    const { sessions } = cookies(true);
    const { ctx, setCookies } = context();
    sessions.write(ctx, sessions.anonymous());
    expect(sessions.cookieName).toBe('__Secure-devicegate');
    const [pair, ...attributes] = setCookies()[0]!.split('; ');
    expect(pair).toMatch(/^__Secure-devicegate=/);
    expect(attributes.sort()).toEqual(['HttpOnly', `Max-Age=${TTL}`, 'Path=/device', 'SameSite=Lax', 'Secure']);
  });

  it('reads back what it wrote; Max-Age counts down with the session', () => {
    const { sessions, clock } = cookies();
    const session: Session = { ...sessions.anonymous(), subject: 'alice', userCode: 'WDJBMJHT' };
    expect(sessions.read(context(roundTrip(sessions, session)).ctx)).toEqual(session);
    clock.advance(600_000);
    const { ctx, setCookies } = context();
    sessions.write(ctx, session);
    expect(setCookies()[0]).toContain(`Max-Age=${TTL - 600}`);
  });

  it('no cookie, or one of the other name: a fresh anonymous session each time', () => {
    const { sessions, clock } = cookies();
    const first = sessions.read(context().ctx);
    const second = sessions.read(context('__Secure-devicegate=x.y').ctx);
    expect(first).toMatchObject({ subject: null, userCode: null, expiresAt: clock.now() + TTL * 1000 });
    expect(first.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(second.id).not.toBe(first.id);
  });

  it.each([
    ['a changed payload', (payload: string, signature: string) => `${forge(payload)}.${signature}`],
    ['a changed signature', (payload: string, signature: string) => `${payload}.${signature.slice(0, -2)}AA`],
    ['a truncated signature', (payload: string, signature: string) => `${payload}.${signature.slice(0, 20)}`],
    ['no signature', (payload: string) => payload],
    ['an extra part', (payload: string, signature: string) => `${payload}.${signature}.x`],
    ['garbage', () => '%%%'],
  ])('a tampered cookie (%s) is an anonymous session', (_, tamper) => {
    const { sessions } = cookies();
    const session: Session = { ...sessions.anonymous(), subject: 'alice', userCode: 'WDJBMJHT' };
    const [name, value] = roundTrip(sessions, session).split('=') as [string, string];
    const [payload, signature] = value.split('.') as [string, string];
    const read = sessions.read(context(`${name}=${tamper(payload, signature)}`).ctx);
    expect(read).toMatchObject({ subject: null, userCode: null });
    expect(read.id).not.toBe(session.id);
  });

  it('a cookie signed with another key is an anonymous session', () => {
    const mine = cookies();
    const theirs = cookies(false, mine.clock);
    const session: Session = { ...theirs.sessions.anonymous(), subject: 'alice' };
    expect(mine.sessions.read(context(roundTrip(theirs.sessions, session)).ctx).subject).toBeNull();
  });

  it('a validly signed payload of the wrong shape is an anonymous session', () => {
    const { sessions, clock } = cookies();
    // Signed by the right key but without an id: not a session this server wrote.
    const shapeless = { subject: 'alice', expiresAt: clock.now() + 1_000 } as unknown as Session;
    expect(sessions.read(context(roundTrip(sessions, shapeless)).ctx).subject).toBeNull();
  });

  it('an expired session is anonymous, at the exact expiry and after', () => {
    const { sessions, clock } = cookies();
    const session: Session = { ...sessions.anonymous(), subject: 'alice' };
    const cookie = roundTrip(sessions, session);
    clock.advance(TTL * 1000 - 1);
    expect(sessions.read(context(cookie).ctx).subject).toBe('alice');
    clock.advance(1);
    expect(sessions.read(context(cookie).ctx).subject).toBeNull();
    clock.advance(86_400_000);
    expect(sessions.read(context(cookie).ctx).subject).toBeNull();
  });

  it('CSRF tokens: bound to the session id, rejected for another session, missing or mangled', () => {
    const { sessions } = cookies();
    const mine = sessions.anonymous();
    const other = sessions.anonymous();
    const token = sessions.csrfToken(mine);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(sessions.csrfToken({ ...mine, subject: 'alice' })).toBe(token); // stable within the session
    expect(sessions.verifyCsrf(mine, token)).toBe(true);
    expect(sessions.verifyCsrf(other, token)).toBe(false);
    expect(sessions.verifyCsrf(mine, undefined)).toBe(false);
    expect(sessions.verifyCsrf(mine, '')).toBe(false);
    expect(sessions.verifyCsrf(mine, token.slice(1))).toBe(false);
    expect(sessions.verifyCsrf(mine, `${token}x`)).toBe(false);
    // A token from the same session id under another key (another server) is worthless.
    expect(cookies().sessions.verifyCsrf(mine, token)).toBe(false);
  });
});

function forge(payload: string): string {
  const session = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Session;
  return Buffer.from(JSON.stringify({ ...session, subject: 'mallory' })).toString('base64url');
}
