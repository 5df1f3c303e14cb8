import type { SampleBatch } from '@gemba/core';
import { packFlags } from './encoding.ts';

const SIGNATURE = Buffer.from([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00]);
const TWO_32 = 4_294_967_296;

/**
 * Encodes batch rows as PostgreSQL binary COPY data (PostgreSQL docs, "COPY", Binary Format)
 * for a table `(sid int4, ts int8, num float8, str text, flags int2)`. Times are stored as whole
 * ms (rounded); NaN numbers (string rows) become NULL.
 */
export function encodeCopyBinary(batch: SampleBatch, sidOf: Int32Array): Buffer {
  const n = batch.length;
  const strs: (Buffer | undefined)[] = new Array(n);
  let size = SIGNATURE.length + 8 + 2;
  for (let i = 0; i < n; i++) {
    size += 2 + 8 + 12 + 4 + 6 + (Number.isNaN(batch.num[i] as number) ? 4 : 12);
    const s = batch.str?.[i];
    if (s !== undefined) {
      const b = Buffer.from(s, 'utf8');
      strs[i] = b;
      size += b.length;
    }
  }
  const buf = Buffer.allocUnsafe(size);
  let o = SIGNATURE.copy(buf, 0);
  o = buf.writeInt32BE(0, o);
  o = buf.writeInt32BE(0, o);
  for (let i = 0; i < n; i++) {
    o = buf.writeInt16BE(5, o);
    o = buf.writeInt32BE(4, o);
    o = buf.writeInt32BE(sidOf[i] as number, o);
    const ts = Math.round(batch.ts[i] as number);
    const hi = Math.floor(ts / TWO_32);
    o = buf.writeInt32BE(8, o);
    o = buf.writeInt32BE(hi, o);
    o = buf.writeUInt32BE(ts - hi * TWO_32, o);
    const num = batch.num[i] as number;
    if (Number.isNaN(num)) o = buf.writeInt32BE(-1, o);
    else {
      o = buf.writeInt32BE(8, o);
      o = buf.writeDoubleBE(num, o);
    }
    const s = strs[i];
    if (s === undefined) o = buf.writeInt32BE(-1, o);
    else {
      o = buf.writeInt32BE(s.length, o);
      o += s.copy(buf, o);
    }
    o = buf.writeInt32BE(2, o);
    o = buf.writeInt16BE(packFlags(batch.kind[i] as number, batch.quality[i] as number), o);
  }
  o = buf.writeInt16BE(-1, o);
  return o === size ? buf : buf.subarray(0, o);
}
