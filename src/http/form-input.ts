import { z } from 'zod';
import type { FormParams } from './form.js';

/**
 * Shapes form parameters for a contract's Zod object: parameters the contract declares as arrays
 * (repeatable, like RFC 8707 `resource`) are passed as arrays; every other declared parameter is
 * passed as its single value, or as the array of values when it was repeated, so that the contract
 * rejects it (RFC 6749 §3.1). Parameters the contract does not declare are dropped (ignored).
 */
export function formToInput(schema: z.ZodObject, params: FormParams): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(schema.shape)) {
    const values = params.get(name);
    if (values === undefined) continue;
    input[name] = isArrayField(field) || values.length > 1 ? values : values[0];
  }
  return input;
}

const arrayFieldCache = new WeakMap<object, boolean>();

function isArrayField(field: unknown): boolean {
  const cached = arrayFieldCache.get(field as object);
  if (cached !== undefined) return cached;
  let inner = field as z.ZodType;
  while (inner instanceof z.ZodOptional || inner instanceof z.ZodDefault) inner = inner.unwrap() as z.ZodType;
  const result = inner instanceof z.ZodArray;
  arrayFieldCache.set(field as object, result);
  return result;
}
