import { z } from 'zod';
import type { FormParams } from './form.js';

/** Each parameter a contract declares, and whether it is repeatable (an array field). */
type FieldPlan = readonly (readonly [name: string, repeatable: boolean])[];

/**
 * Shapes form parameters for a contract's Zod object: parameters the contract declares as arrays
 * (repeatable, like RFC 8707 `resource`) are passed as arrays; every other declared parameter is
 * passed as its single value, or as the array of values when it was repeated, so that the contract
 * rejects it (RFC 6749 §3.1). Parameters the contract does not declare are dropped (ignored).
 */
export function formToInput(schema: z.ZodObject, params: FormParams): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const [name, repeatable] of fieldPlan(schema)) {
    const values = params.get(name);
    if (values === undefined) continue;
    input[name] = repeatable || values.length > 1 ? values : values[0];
  }
  return input;
}

// Contracts are fixed at start-up: each one's plan is worked out once, not on every request.
const plans = new WeakMap<z.ZodObject, FieldPlan>();

function fieldPlan(schema: z.ZodObject): FieldPlan {
  let plan = plans.get(schema);
  if (plan === undefined) {
    plan = Object.entries(schema.shape).map(([name, field]) => [name, isArrayField(field)] as const);
    plans.set(schema, plan);
  }
  return plan;
}

function isArrayField(field: unknown): boolean {
  let inner = field as z.ZodType;
  while (inner instanceof z.ZodOptional || inner instanceof z.ZodDefault) inner = inner.unwrap() as z.ZodType;
  return inner instanceof z.ZodArray;
}
