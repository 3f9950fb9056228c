import { z } from 'zod';

/**
 * A single-valued OAuth form parameter. RFC 6749 §3.1: request and response parameters MUST NOT be
 * included more than once, so a repeated parameter (which the form reader passes on as an array) is
 * an invalid_request naming the parameter.
 */
export function formParam(name: string) {
  return z.string({ error: (issue) => describeFormIssue(name, issue.input) }).max(2048, `${name} is too long`);
}

export function optionalFormParam(name: string) {
  return formParam(name).optional();
}

function describeFormIssue(name: string, input: unknown): string {
  if (input === undefined) return `${name} is required`;
  if (Array.isArray(input)) return `${name} must not be repeated`;
  return `${name} must be a string`;
}
