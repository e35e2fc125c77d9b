// Query-string validation for the web JSON APIs: zod schemas over the raw strings, and a 400
// `invalid_input` naming the parameter at fault (the same error shape as docs/api.md).
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { HttpError } from '../ops/http.ts';

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** A decimal number in [min, max], written plainly (no empty string, hex or 'Infinity'). */
export function decimalParam(min: number, max: number): z.ZodType<number, string> {
  return z
    .string()
    .regex(DECIMAL, { message: 'must be a decimal number' })
    .transform(Number)
    .pipe(z.number().min(min, { message: `must be at least ${min}` }).max(max, { message: `must be at most ${max}` }));
}

/** A whole number in [min, max]. */
export function intParam(min: number, max: number): z.ZodType<number, string> {
  return z
    .string()
    .regex(/^[+-]?\d{1,16}$/, { message: 'must be a whole number' })
    .transform(Number)
    .pipe(z.number().min(min, { message: `must be at least ${min}` }).max(max, { message: `must be at most ${max}` }));
}

/** Parses the request's query string with `schema` (a strict object of string params). */
export function readQuery<T>(req: IncomingMessage, schema: z.ZodType<T>): T {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  const params = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
  const raw: Record<string, string> = {};
  for (const [key, value] of params) {
    if (Object.hasOwn(raw, key)) throw new HttpError(400, 'invalid_input', `${key} is given more than once`, { field: key });
    raw[key] = value;
  }
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.map(String).join('.') ?? '';
  if (issue?.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    throw new HttpError(400, 'invalid_input', `unknown query parameter ${key}`, { field: key });
  }
  const message = issue === undefined ? 'invalid query' : issue.code === 'invalid_type' ? `${field} is required` : `${field} ${issue.message}`;
  throw new HttpError(400, 'invalid_input', message, field.length > 0 ? { field } : {});
}
