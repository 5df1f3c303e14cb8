import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, GembaError, isGembaError } from './errors.ts';

describe('error catalogue', () => {
  it('lists every code in docs/errors.md, and nothing else', () => {
    const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
    const documented = [...doc.matchAll(/^\|\s*`(GEMBA_[A-Z0-9_]+)`\s*\|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it('keeps code, details and cause', () => {
    const cause = new Error('root');
    const e = new GembaError('GEMBA_MODEL_INVALID', 'plant.yaml:3:4 bad', { details: { n: 1 }, cause });
    expect(isGembaError(e, 'GEMBA_MODEL_INVALID')).toBe(true);
    expect(isGembaError(e, 'GEMBA_INTERNAL')).toBe(false);
    expect(e.details).toEqual({ n: 1 });
    expect(e.cause).toBe(cause);
  });
});
