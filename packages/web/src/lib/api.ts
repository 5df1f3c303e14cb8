// REST access with the bearer token. The token comes once from `?token=` (what `gemba demo`
// prints), is kept in sessionStorage and removed from the address bar.

const KEY = 'gemba.token';

/** Takes `?token=` from the URL into sessionStorage; returns the stored token, if any. */
export function initToken(): string | null {
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl !== null && fromUrl !== '') {
    sessionStorage.setItem(KEY, fromUrl);
    url.searchParams.delete('token');
    history.replaceState(null, '', url.toString());
  }
  return sessionStorage.getItem(KEY);
}

/** Keeps `token` for this tab (sessionStorage). */
export function setToken(token: string): void {
  sessionStorage.setItem(KEY, token);
}

/** Forgets the token (sign out). */
export function clearToken(): void {
  sessionStorage.removeItem(KEY);
}

/** The token of this tab, or an empty string. */
export function token(): string {
  return sessionStorage.getItem(KEY) ?? '';
}

/** An API error with the server's code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${token()}` };
  const init: RequestInit = { method, headers };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  if (!res.ok) {
    let code = 'GEMBA_INTERNAL';
    let message = `HTTP ${res.status}`;
    try {
      const j = (await res.json()) as { error?: { code?: string; message?: string } };
      code = j.error?.code ?? code;
      message = j.error?.message ?? message;
    } catch {
      // Not JSON: keep the HTTP status as the message.
    }
    throw new ApiError(res.status, code, message);
  }
  const type = res.headers.get('content-type') ?? '';
  return (type.includes('json') ? await res.json() : await res.text()) as T;
}

/** GET/POST/DELETE with the bearer token; rejects with {@link ApiError} on a non-2xx answer. */
export const api = {
  get: <T>(path: string) => request<T>('GET', path),
  post: <T>(path: string, body: unknown) => request<T>('POST', path, body),
  del: <T>(path: string) => request<T>('DELETE', path),
};

/** Builds a query string from defined values. */
export function qs(params: Record<string, string | number | undefined>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) u.set(k, String(v));
  return u.toString();
}
