import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import type { AuditEvent, AuditFields, AuditSink } from '../domain/audit.js';

export type { AuditEvent, AuditFields, AuditSink };

export type AuditListener = (event: AuditEvent, fields: AuditFields) => void;

export class AuditLog {
  private readonly logger: Logger;
  private readonly listeners: AuditListener[] = [];

  constructor(logger: Logger) {
    this.logger = logger.child({ name: 'audit' });
  }

  /** Hook point for metrics (grants by outcome, lockouts): called for every event after it is logged. */
  onEvent(listener: AuditListener): void {
    this.listeners.push(listener);
  }

  /** Whether a record would go anywhere: the audit lines are pino's `info` level (LOG_LEVEL=warn drops them). */
  get enabled(): boolean {
    return this.listeners.length > 0 || this.logger.isLevelEnabled('info');
  }

  record(event: AuditEvent, fields: AuditFields): void {
    this.logger.info({ event, ...fields }, `audit ${event}`);
    for (const listener of this.listeners) listener(event, fields);
  }

  /** The same record with the request's id and client IP filled in. */
  forRequest(ctx: Context): AuditSink {
    return (event, fields) => this.record(event, { request_id: requestIdOf(ctx), ip: ctx.ip || null, ...fields });
  }
}

/** A caller's id is echoed only when it is short and plain (no log injection, no header splitting). */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/**
 * A request id per request: the caller's (or the load balancer's) `X-Request-Id` when it is sane, a
 * fresh UUID otherwise; echoed in the response's `X-Request-Id` and put in every audit line.
 */
export function requestIdFor(presented: string | undefined): string {
  return presented && SANE_REQUEST_ID.test(presented) ? presented : randomUUID();
}

/** requestIdFor as the pages' (Koa) first middleware. */
export function requestIds(ctx: Context, next: Next): Promise<void> {
  const requestId = requestIdFor(ctx.get('x-request-id'));
  ctx.state.requestId = requestId;
  ctx.set('X-Request-Id', requestId);
  return next();
}

export function requestIdOf(ctx: Context): string | undefined {
  return ctx.state.requestId as string | undefined;
}
