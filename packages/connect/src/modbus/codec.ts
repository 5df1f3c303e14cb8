import type { MODBUS_TYPES } from '@gemba/core';

/** A Modbus value type. */
export type ModbusType = (typeof MODBUS_TYPES)[number];

/** Registers (16-bit words) a type spans. */
export function registerCount(type: ModbusType): number {
  switch (type) {
    case 'int32':
    case 'uint32':
    case 'float32':
      return 2;
    case 'float64':
      return 4;
    default:
      return 1;
  }
}

/** Byte and word order of a multi-register value ("ABCD" is big/big). */
export interface ModbusOrder {
  wordOrder: 'big' | 'little';
  byteOrder: 'big' | 'little';
}

const scratch = new DataView(new ArrayBuffer(8));

/**
 * Decodes `registerCount(type)` registers starting at `regs[offset]`. `wordOrder: 'big'`
 * means the first register holds the most significant word (Modbus has no standard for
 * this; "ABCD" is the common default); `byteOrder: 'big'` means each register's high byte
 * comes first, as Modbus Application Protocol v1.1b3 §4.2 specifies. Returns NaN when the
 * registers are missing.
 */
export function decodeRegisters(
  regs: ArrayLike<number>,
  offset: number,
  type: ModbusType,
  order: ModbusOrder,
): number {
  const n = registerCount(type);
  if (offset + n > regs.length) return Number.NaN;
  for (let i = 0; i < n; i++) {
    const w = (regs[order.wordOrder === 'big' ? offset + i : offset + n - 1 - i] as number) & 0xffff;
    const word = order.byteOrder === 'big' ? w : ((w & 0xff) << 8) | (w >> 8);
    scratch.setUint16(i * 2, word);
  }
  switch (type) {
    case 'int16':
      return scratch.getInt16(0);
    case 'uint16':
    case 'bool':
      return scratch.getUint16(0);
    case 'int32':
      return scratch.getInt32(0);
    case 'uint32':
      return scratch.getUint32(0);
    case 'float32':
      return scratch.getFloat32(0);
    case 'float64':
      return scratch.getFloat64(0);
  }
}

/** Encodes a value into registers (the inverse of {@link decodeRegisters}). */
export function encodeRegisters(value: number, type: ModbusType, order: ModbusOrder): number[] {
  const n = registerCount(type);
  switch (type) {
    case 'int16':
      scratch.setInt16(0, value);
      break;
    case 'uint16':
    case 'bool':
      scratch.setUint16(0, value);
      break;
    case 'int32':
      scratch.setInt32(0, value);
      break;
    case 'uint32':
      scratch.setUint32(0, value);
      break;
    case 'float32':
      scratch.setFloat32(0, value);
      break;
    case 'float64':
      scratch.setFloat64(0, value);
      break;
  }
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const w = scratch.getUint16(i * 2);
    const word = order.byteOrder === 'big' ? w : ((w & 0xff) << 8) | (w >> 8);
    out[order.wordOrder === 'big' ? i : n - 1 - i] = word;
  }
  return out;
}
