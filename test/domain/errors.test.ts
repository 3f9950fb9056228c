import { describe, expect, it } from 'vitest';
import { AuthorizationPendingError, InvalidClientError, OAuthError, SlowDownError } from '../../src/domain/errors.js';

describe('OAuth error classes', () => {
  it('carry their RFC code and status', () => {
    expect(new AuthorizationPendingError('x')).toMatchObject({ error: 'authorization_pending', status: 400, description: 'x' });
    expect(new InvalidClientError('x', { basicAttempted: true })).toMatchObject({ error: 'invalid_client', status: 401 });
    expect(new InvalidClientError('x', { basicAttempted: true }).headers['WWW-Authenticate']).toMatch(/^Basic /);
    expect(new SlowDownError()).toBeInstanceOf(OAuthError);
  });

  it('capture no stack trace (they are answers, not faults), and leave the global limit as it was', () => {
    const before = Error.stackTraceLimit;
    const error = new AuthorizationPendingError('pending');
    expect(error.stack ?? '').not.toMatch(/\n\s+at /);
    expect(Error.stackTraceLimit).toBe(before);
    expect(new Error('a fault').stack).toMatch(/\n\s+at /);
  });
});
