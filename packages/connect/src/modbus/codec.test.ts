import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeRegisters, encodeRegisters, type ModbusType } from './codec.ts';

describe('Modbus register codec', () => {
  it('decodes float32 in all four byte/word orders', () => {
    // 123.456 as float32 is 0x42F6E979: ABCD
    expect(
      decodeRegisters([0x42f6, 0xe979], 0, 'float32', { wordOrder: 'big', byteOrder: 'big' }),
    ).toBeCloseTo(123.456, 3);
    expect(
      decodeRegisters([0xe979, 0x42f6], 0, 'float32', { wordOrder: 'little', byteOrder: 'big' }),
    ).toBeCloseTo(123.456, 3);
    expect(
      decodeRegisters([0xf642, 0x79e9], 0, 'float32', { wordOrder: 'big', byteOrder: 'little' }),
    ).toBeCloseTo(123.456, 3);
    expect(
      decodeRegisters([0x79e9, 0xf642], 0, 'float32', { wordOrder: 'little', byteOrder: 'little' }),
    ).toBeCloseTo(123.456, 3);
  });

  it('decodes signed and unsigned integers', () => {
    const be = { wordOrder: 'big', byteOrder: 'big' } as const;
    expect(decodeRegisters([0xffff], 0, 'int16', be)).toBe(-1);
    expect(decodeRegisters([0xffff], 0, 'uint16', be)).toBe(65535);
    expect(decodeRegisters([0x0001, 0x0000], 0, 'uint32', be)).toBe(65536);
    expect(decodeRegisters([0xffff, 0xfffe], 0, 'int32', be)).toBe(-2);
    expect(decodeRegisters([1], 0, 'uint32', be)).toBeNaN();
  });

  it('round-trips every type and order', () => {
    const gen = fc.record({
      type: fc.constantFrom<ModbusType>('int16', 'uint16', 'int32', 'uint32', 'float32', 'float64'),
      wordOrder: fc.constantFrom<'big' | 'little'>('big', 'little'),
      byteOrder: fc.constantFrom<'big' | 'little'>('big', 'little'),
      x: fc.double({ min: 0, max: 1, noNaN: true }),
    });
    fc.assert(
      fc.property(gen, ({ type, wordOrder, byteOrder, x }) => {
        const ranges: Record<string, [number, number]> = {
          int16: [-32768, 32767],
          uint16: [0, 65535],
          int32: [-2147483648, 2147483647],
          uint32: [0, 4294967295],
          float32: [-1e6, 1e6],
          float64: [-1e300, 1e300],
        };
        const [lo, hi] = ranges[type] as [number, number];
        let v = lo + x * (hi - lo);
        if (type !== 'float32' && type !== 'float64') v = Math.round(v);
        if (type === 'float32') v = Math.fround(v);
        const order = { wordOrder, byteOrder };
        const regs = encodeRegisters(v, type, order);
        expect(decodeRegisters(regs, 0, type, order)).toBe(v);
      }),
    );
  });
});
