import { randomBytes, timingSafeEqual } from 'node:crypto';
import { GembaError } from '@gemba/core';
import type { Actor, Role } from './runtime/runtime.ts';

/** Every role, least privileged first; a role may do everything the ones before it may. */
export const ROLES: readonly Role[] = ['viewer', 'operator', 'engineer', 'admin'];

/** One API token. */
export interface TokenEntry {
  /** The secret sent as `Authorization: Bearer <token>`. */
  token: string;
  role: Role;
  /** Who holds it; recorded in the audit log. */
  name: string;
}

/** How the API authenticates requests. */
export interface AuthConfig {
  tokens: readonly TokenEntry[];
}

/** True when `role` is at least `needed`. */
export function roleAtLeast(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

/** A random token (32 bytes, base64url), e.g. for the local admin token `gemba demo` prints. */
export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Checks bearer tokens against the configured list (constant-time comparison).
 */
export class Authenticator {
  readonly #tokens: { buf: Buffer; entry: TokenEntry }[];

  constructor(config: AuthConfig) {
    this.#tokens = config.tokens.map((entry) => ({ buf: Buffer.from(entry.token), entry }));
  }

  /**
   * The actor holding `token`.
   * @throws GembaError GEMBA_API_UNAUTHORIZED when the token is missing or unknown.
   */
  authenticate(token: string | undefined): Actor {
    if (token === undefined || token === '') {
      throw new GembaError('GEMBA_API_UNAUTHORIZED', 'missing bearer token (Authorization: Bearer <token>)');
    }
    const buf = Buffer.from(token);
    for (const t of this.#tokens) {
      if (t.buf.length === buf.length && timingSafeEqual(t.buf, buf)) {
        return { name: t.entry.name, role: t.entry.role };
      }
    }
    throw new GembaError('GEMBA_API_UNAUTHORIZED', 'unknown bearer token');
  }

  /**
   * Checks that `actor` may do something that needs `needed`.
   * @throws GembaError GEMBA_API_FORBIDDEN
   */
  authorize(actor: Actor, needed: Role, what: string): void {
    if (!roleAtLeast(actor.role, needed)) {
      throw new GembaError(
        'GEMBA_API_FORBIDDEN',
        `${what} needs role '${needed}'; token '${actor.name}' has role '${actor.role}'`,
        { details: { needed, role: actor.role } },
      );
    }
  }
}

/** The token from an `Authorization: Bearer` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}
