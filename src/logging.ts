import type { Logger } from 'pino';

/**
 * pino serializer for `err`: type, message, stack, code and the cause chain — nothing else. ioredis
 * errors carry `command: { name, args }`, and the args of a grant script hold user codes, hashes and
 * subjects; other errors may carry request data in ad-hoc fields. Only the command's name is kept.
 */
export function redactedError(error: unknown, depth = 0): unknown {
  if (!(error instanceof Error)) return typeof error === 'string' ? error.slice(0, 200) : { type: typeof error };
  const serialized: Record<string, unknown> = { type: error.name, message: error.message, stack: error.stack };
  const { code, command, cause } = error as Error & { code?: unknown; command?: { name?: unknown } };
  if (typeof code === 'string' || typeof code === 'number') serialized.code = code;
  if (command && typeof command.name === 'string') serialized.command = command.name;
  if (cause !== undefined && depth < 3) serialized.cause = redactedError(cause, depth + 1);
  return serialized;
}

export const logSerializers = { err: redactedError, error: redactedError };

/** The same logger with error serializers that never print command arguments or request data. */
export function withRedactedErrors(logger: Logger): Logger {
  return logger.child({}, { serializers: logSerializers });
}
