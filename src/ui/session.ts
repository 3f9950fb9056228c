import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';
import type { PendingAuthorization } from '../domain/authorization-request.js';
import type { Clock } from '../domain/clock.js';

/** What the browser carries between the verification pages, signed so it cannot be forged. */
export interface Session {
  /** Random per browser session; the CSRF token is derived from it. */
  readonly id: string;
  /** The signed-in person, or null. */
  readonly subject: string | null;
  /**
   * The user code the person entered successfully. The confirmation page reads the code from here,
   * never from the URL, so it cannot serve as a guessing oracle around the rate limiter.
   */
  readonly userCode: string | null;
  /** An authorization request (code flow) validated at /oauth/authorize, waiting for the person's decision. */
  readonly authorization?: PendingAuthorization | null;
  readonly expiresAt: number;
}

export interface SessionOptions {
  readonly key: Buffer;
  readonly clock: Clock;
  readonly ttlSeconds: number;
  /** Secure cookies (and the __Secure- name prefix; __Host- would need Path=/) when the issuer is https. */
  readonly secure: boolean;
}

/**
 * A stateless session in one cookie: base64url(JSON) "." HMAC-SHA256. HttpOnly, SameSite=Lax,
 * Path=/device; Secure with the `__Secure-` name prefix when the issuer is https. It expires with
 * the session, in the browser (Max-Age) and in the signed payload (checked on every read).
 */
export class SessionCookies {
  readonly cookieName: string;

  constructor(private readonly options: SessionOptions) {
    this.cookieName = options.secure ? '__Secure-devicegate' : 'devicegate';
  }

  /** The valid session the request carries, or a fresh anonymous one. */
  read(ctx: Context): Session {
    const value = ctx.cookies.get(this.cookieName);
    const session = value ? this.decode(value) : null;
    return session ?? this.anonymous();
  }

  anonymous(): Session {
    return {
      id: randomBytes(16).toString('base64url'),
      subject: null,
      userCode: null,
      expiresAt: this.options.clock.now() + this.options.ttlSeconds * 1000,
    };
  }

  write(ctx: Context, session: Session): void {
    const maxAge = Math.max(0, Math.floor((session.expiresAt - this.options.clock.now()) / 1000));
    ctx.append('Set-Cookie', this.serialize(this.encode(session), maxAge));
  }

  clear(ctx: Context): void {
    ctx.append('Set-Cookie', this.serialize('', 0));
  }

  /** A form token bound to the session (synchroniser-token pattern, without server state). */
  csrfToken(session: Session): string {
    return this.mac(`csrf:${session.id}`);
  }

  verifyCsrf(session: Session, token: string | undefined): boolean {
    return token !== undefined && safeEqual(token, this.csrfToken(session));
  }

  private serialize(value: string, maxAge: number): string {
    const attributes = [`${this.cookieName}=${value}`, 'Path=/device', `Max-Age=${maxAge}`, 'HttpOnly', 'SameSite=Lax'];
    if (this.options.secure) attributes.push('Secure');
    return attributes.join('; ');
  }

  private encode(session: Session): string {
    const payload = Buffer.from(JSON.stringify(session)).toString('base64url');
    return `${payload}.${this.mac(payload)}`;
  }

  private decode(value: string): Session | null {
    const [payload, signature, extra] = value.split('.');
    if (!payload || !signature || extra !== undefined || !safeEqual(signature, this.mac(payload))) return null;
    try {
      const session = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Session;
      if (typeof session.id !== 'string' || typeof session.expiresAt !== 'number') return null;
      return session.expiresAt > this.options.clock.now() ? session : null;
    } catch {
      return null;
    }
  }

  private mac(text: string): string {
    return createHmac('sha256', this.options.key).update(text).digest('base64url');
  }
}

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
