import { isGembaError } from '@gemba/core';
import { describe, expect, it } from 'vitest';
import { parseOrdersCsv } from './write-routes.ts';

describe('orders CSV', () => {
  it('reads orders with optional columns in any order', () => {
    const csv =
      'quantity,id,line,product,due\r\n10,PO-1,acme/p/a/l,widget-a,2026-01-12T06:00:00+01:00\n\n"20",PO-2,acme/p/a/l,widget-a,\n';
    expect(parseOrdersCsv(csv)).toEqual([
      {
        id: 'PO-1',
        product: 'widget-a',
        line: 'acme/p/a/l',
        quantity: 10,
        due: '2026-01-12T06:00:00+01:00',
        status: 'planned',
      },
      { id: 'PO-2', product: 'widget-a', line: 'acme/p/a/l', quantity: 20, status: 'planned' },
    ]);
  });

  it('names the CSV line and column of a bad value', () => {
    try {
      parseOrdersCsv('id,product,line,quantity\nPO-1,w,l,10\nPO-2,w,l,-3\n');
      expect.unreachable();
    } catch (err: unknown) {
      expect(isGembaError(err, 'GEMBA_API_INVALID_INPUT')).toBe(true);
      expect((err as Error).message).toMatch(/^csv:3: column 'quantity'/);
    }
    expect(() => parseOrdersCsv('')).toThrow(/csv: empty/);
  });
});
