// Request shapes of the account API, validated with zod at the HTTP edge and again inside
// AuthService (which may be called directly). Unknown keys are rejected, so a typo in a client is
// an error rather than a silently ignored field. Messages never echo the input.
import { z } from 'zod';

export const USERNAME_RE = /^[A-Za-z0-9_]+$/;
export const LIMITS = {
  usernameMin: 3,
  usernameMax: 20,
  emailMax: 254,
  passwordMin: 8,
  passwordMax: 128,
} as const;

const usernameMessage = `username must be ${LIMITS.usernameMin}–${LIMITS.usernameMax} characters: letters, digits or _`;

export const Username = z
  .string({ error: 'username must be a string' })
  .min(LIMITS.usernameMin, usernameMessage)
  .max(LIMITS.usernameMax, usernameMessage)
  .regex(USERNAME_RE, usernameMessage);

export const Email = z
  .string({ error: 'email must be a string' })
  .max(LIMITS.emailMax, `email must be at most ${LIMITS.emailMax} characters`)
  .pipe(z.email({ error: 'email must be an email address' }));

const passwordMessage = `password must be ${LIMITS.passwordMin}–${LIMITS.passwordMax} characters`;

export const NewPassword = z
  .string({ error: 'password must be a string' })
  .min(LIMITS.passwordMin, passwordMessage)
  .max(LIMITS.passwordMax, passwordMessage);

/** At login any length up to the maximum: a too-short password is simply wrong, not malformed. */
export const LoginPassword = z
  .string({ error: 'password must be a string' })
  .min(1, 'password must not be empty')
  .max(LIMITS.passwordMax, passwordMessage);

export const RegisterRequest = z.strictObject(
  { username: Username, email: Email, password: NewPassword },
  { error: 'the body must be a JSON object' },
);
export type RegisterRequest = z.infer<typeof RegisterRequest>;

export const LoginRequest = z.strictObject(
  { username: Username, password: LoginPassword },
  { error: 'the body must be a JSON object' },
);
export type LoginRequest = z.infer<typeof LoginRequest>;

/** The first problem of a failed parse, as a field name (when there is one) and a message. */
export function firstIssue(error: z.ZodError): { field?: string; message: string } {
  const issue = error.issues[0];
  if (issue === undefined) return { message: 'invalid input' };
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    // Unknown key names come from the client: bound what is echoed back.
    const shown = key.length > 40 ? `${key.slice(0, 40)}…` : key;
    return { field: shown, message: `unknown field ${JSON.stringify(shown)}` };
  }
  const field = issue.path[0];
  if (typeof field === 'string') {
    // A missing field arrives as a type error on undefined; say so plainly.
    if (issue.code === 'invalid_type' && issue.input === undefined) return { field, message: `${field} is required` };
    return { field, message: issue.message };
  }
  return { message: issue.message };
}
