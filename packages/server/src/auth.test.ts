import { isGembaError } from '@gemba/core';
import { describe, expect, it } from 'vitest';
import { Authenticator, bearerToken, generateToken, roleAtLeast } from './auth.ts';

describe('auth', () => {
  const auth = new Authenticator({
    tokens: [
      { token: 'op-secret', role: 'operator', name: 'otto' },
      { token: 'admin-secret', role: 'admin', name: 'ada' },
    ],
  });

  it('orders roles viewer < operator < engineer < admin', () => {
    expect(roleAtLeast('admin', 'engineer')).toBe(true);
    expect(roleAtLeast('operator', 'operator')).toBe(true);
    expect(roleAtLeast('operator', 'engineer')).toBe(false);
    expect(roleAtLeast('viewer', 'operator')).toBe(false);
  });

  it('authenticates known tokens only', () => {
    expect(auth.authenticate('op-secret')).toEqual({ name: 'otto', role: 'operator' });
    for (const t of [undefined, '', 'op-secre', 'op-secret ', 'OP-SECRET']) {
      try {
        auth.authenticate(t);
        expect.unreachable();
      } catch (err: unknown) {
        expect(isGembaError(err, 'GEMBA_API_UNAUTHORIZED')).toBe(true);
      }
    }
  });

  it('forbids with a message naming the role needed', () => {
    expect(() =>
      auth.authorize({ name: 'otto', role: 'operator' }, 'engineer', 'POST /api/setpoints'),
    ).toThrow(/needs role 'engineer'; token 'otto' has role 'operator'/);
    expect(() => auth.authorize({ name: 'ada', role: 'admin' }, 'engineer', 'x')).not.toThrow();
  });

  it('reads bearer headers and makes long random tokens', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer   abc  ')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
    const a = generateToken();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(generateToken()).not.toBe(a);
  });
});
