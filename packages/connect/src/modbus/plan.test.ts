import { describe, expect, it } from 'vitest';
import { coalesce, type ModbusPoint } from './plan.ts';

const pt = (
  address: number,
  count = 1,
  table: ModbusPoint['table'] = 'holding',
  unitId = 1,
): ModbusPoint => ({
  signal: `s${table}${unitId}/${address}`,
  table,
  unitId,
  address,
  count,
  type: count === 2 ? 'float32' : 'uint16',
  wordOrder: 'big',
  byteOrder: 'big',
  bit: undefined,
});

describe('Modbus read planning', () => {
  it('coalesces adjacent registers and splits tables and unit ids', () => {
    const blocks = coalesce([pt(4, 2), pt(0, 2), pt(2, 2), pt(0, 1, 'input'), pt(0, 1, 'holding', 2)]);
    expect(blocks.map((b) => [b.table, b.unitId, b.start, b.length])).toEqual([
      ['holding', 1, 0, 6],
      ['input', 1, 0, 1],
      ['holding', 2, 0, 1],
    ]);
  });

  it('never reads more than 125 registers at once and does not bridge wide gaps', () => {
    const pts = Array.from({ length: 200 }, (_, i) => pt(i));
    pts.push(pt(1000));
    const blocks = coalesce(pts);
    expect(blocks.map((b) => [b.start, b.length])).toEqual([
      [0, 125],
      [125, 75],
      [1000, 1],
    ]);
    const bits = coalesce(Array.from({ length: 2500 }, (_, i) => pt(i, 1, 'coil')));
    expect(bits.map((b) => b.length)).toEqual([2000, 500]);
  });
});
