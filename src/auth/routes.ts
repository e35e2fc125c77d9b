// The account API over HTTP: POST /api/register, /api/login, /api/refresh, /api/logout.
// Bodies are read with a size limit and validated with zod before AuthService sees them; every
// refusal is `{ error, message, ...extra }` JSON (docs/api.md).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError, readJsonBody, sendError, sendJson } from '../ops/http.ts';
import type { HttpRoute } from '../ops/http.ts';
import { AuthError } from './accounts.ts';
import type { AuthService } from './accounts.ts';
import { LoginRequest, RegisterRequest, firstIssue } from './schemas.ts';
import type { z } from 'zod';

export interface AuthRoutesOptions {
  /** Request body limit in bytes (default 16 KiB: every body here is a few hundred bytes). */
  maxBodyBytes?: number;
}

/** Token responses must never be cached by a browser or proxy (RFC 6749 §5.1). */
const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };

/** The peer's address; '' only for a socket already gone, which the limiter then counts together. */
function remoteOf(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? '';
}

/** The token of an `Authorization: Bearer <token>` header (scheme case-insensitive). */
export function bearerToken(req: IncomingMessage): string {
  const header = req.headers.authorization;
  const match = header === undefined ? null : /^Bearer +(\S+) *$/i.exec(header);
  if (match?.[1] === undefined) {
    throw new HttpError(401, 'invalid_token', 'send the token as "Authorization: Bearer <token>"', {}, {
      'WWW-Authenticate': 'Bearer',
    });
  }
  return match[1];
}

async function readBody<T>(req: IncomingMessage, schema: z.ZodType<T>, maxBytes: number | undefined): Promise<T> {
  const body = await readJsonBody(req, maxBytes);
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const { field, message } = firstIssue(result.error);
  throw new HttpError(400, 'invalid_input', message, field === undefined ? {} : { field });
}

function sendAuthError(res: ServerResponse, err: AuthError): void {
  const extra: Record<string, unknown> = {};
  const headers: Record<string, string> = {};
  if (err.field !== undefined) extra.field = err.field;
  if (err.retryAfterSeconds !== undefined) {
    extra.retryAfterSeconds = err.retryAfterSeconds;
    headers['Retry-After'] = String(err.retryAfterSeconds);
  }
  if (err.code === 'invalid_token') headers['WWW-Authenticate'] = 'Bearer error="invalid_token"';
  sendError(res, err.status, err.code, err.message, extra, headers);
}

/** Runs a handler, answering AuthErrors here; HttpErrors and failures go to the server. */
function handler(run: (req: IncomingMessage, res: ServerResponse) => Promise<void>): HttpRoute['handle'] {
  return async (req, res) => {
    try {
      await run(req, res);
    } catch (err) {
      if (err instanceof AuthError) sendAuthError(res, err);
      else throw err;
    }
  };
}

export function authRoutes(auth: AuthService, opts: AuthRoutesOptions = {}): HttpRoute[] {
  const max = opts.maxBodyBytes;
  return [
    {
      method: 'POST',
      path: '/api/register',
      handle: handler(async (req, res) => {
        const body = await readBody(req, RegisterRequest, max);
        sendJson(res, 201, await auth.register(body, remoteOf(req)));
      }),
    },
    {
      method: 'POST',
      path: '/api/login',
      handle: handler(async (req, res) => {
        const body = await readBody(req, LoginRequest, max);
        sendJson(res, 200, await auth.login(body, remoteOf(req)), NO_STORE);
      }),
    },
    {
      method: 'POST',
      path: '/api/refresh',
      handle: handler(async (req, res) => {
        // The body, if any, is ignored: the token travels in the header only.
        req.resume();
        sendJson(res, 200, await auth.refresh(bearerToken(req)), NO_STORE);
      }),
    },
    {
      method: 'POST',
      path: '/api/logout',
      handle: handler(async (req, res) => {
        req.resume();
        await auth.logout(bearerToken(req));
        res.writeHead(204, { 'Cache-Control': 'no-store' });
        res.end();
      }),
    },
  ];
}
