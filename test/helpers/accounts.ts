// Accounts over the real HTTP API, for end-to-end tests.
let n = 0;

export interface TestAccount {
  username: string;
  password: string;
  playerId: number;
}

export async function api(
  baseUrl: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${baseUrl}${path}`, {
    method: body === undefined && path !== '/api/logout' && path !== '/api/refresh' ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {}, headers: res.headers };
}

/** Registers a fresh account with a unique name. */
export async function register(baseUrl: string, prefix = 'tester'): Promise<TestAccount> {
  const username = `${prefix}_${process.pid % 10000}_${++n}`;
  const password = `pw-${username}-secret`;
  const r = await api(baseUrl, '/api/register', { username, email: `${username}@example.test`, password });
  if (r.status !== 201) throw new Error(`register ${username}: ${r.status} ${JSON.stringify(r.json)}`);
  return { username, password, playerId: r.json.playerId as number };
}

export async function login(baseUrl: string, a: { username: string; password: string }): Promise<string> {
  const r = await api(baseUrl, '/api/login', { username: a.username, password: a.password });
  if (r.status !== 200) throw new Error(`login ${a.username}: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.token as string;
}
