// Strict readers of untrusted JSON fields for share links: each failure is a ShareError that
// names the field and what was expected.
import { ShareError } from './share-error.ts';

export type Fields = Record<string, unknown>;

export function invalid(field: string, expected: string): never {
  throw new ShareError('invalid_payload', `share link: field ${field}: expected ${expected}`);
}

/** An object with no keys but `allowed` and every key of `required`. */
export function record(value: unknown, field: string, allowed: readonly string[], required: readonly string[]): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) invalid(field, 'an object');
  const fields = value as Fields;
  for (const key of Object.keys(fields)) {
    if (!allowed.includes(key)) invalid(`${field}.${key}`, `no such field (allowed: ${allowed.join(', ')})`);
  }
  for (const key of required) {
    if (!Object.hasOwn(fields, key)) invalid(`${field}.${key}`, 'a value (missing)');
  }
  return fields;
}

export function text(value: unknown, field: string, maxChars: number, minChars = 0): string {
  if (typeof value !== 'string' || value.length < minChars || value.length > maxChars) {
    invalid(field, `a string of ${minChars}–${maxChars} characters`);
  }
  return value;
}

export function number(value: unknown, field: string, min: number, max: number, integer: boolean): number {
  const ok = typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max;
  if (!ok || (integer && !Number.isInteger(value))) {
    invalid(field, `${integer ? 'an integer' : 'a number'} in [${min}, ${max}]`);
  }
  return value as number;
}

/** A list of `min`–`max` items (the message calls them `what`). */
export function list(value: unknown, field: string, min: number, max: number, what: string): unknown[] {
  if (!Array.isArray(value) || value.length < min || value.length > max) invalid(field, `a list of ${min}–${max} ${what}`);
  return value;
}
