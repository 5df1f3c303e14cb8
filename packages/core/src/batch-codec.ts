import { GembaError } from './errors.ts';
import { SampleBatch, VALUE_KIND } from './sample.ts';

// Wire format (little-endian), used by the NATS bus and the store-and-forward buffer:
//   u32 magic 'GMB1' | u32 rows | u32 distinct signals | signal table (u16 len + utf8 each)
//   | u32 signal index per row | f64 ts | f64 num | u8 kind | u8 quality | strings (u32 len + utf8) for kind=string rows
const MAGIC = 0x31424d47;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Encodes a batch into compact bytes (distinct signal names are written once). */
export function encodeBatch(batch: SampleBatch): Uint8Array {
  const n = batch.length;
  const index = new Map<string, number>();
  const names: Uint8Array[] = [];
  const rowIdx = new Uint32Array(n);
  let namesBytes = 0;
  for (let i = 0; i < n; i++) {
    const s = batch.signals[i] as string;
    let k = index.get(s);
    if (k === undefined) {
      k = names.length;
      index.set(s, k);
      const bytes = encoder.encode(s);
      if (bytes.length > 0xffff)
        throw new GembaError('GEMBA_INVALID_ARGUMENT', `signal path too long: ${s.slice(0, 80)}…`);
      names.push(bytes);
      namesBytes += 2 + bytes.length;
    }
    rowIdx[i] = k;
  }
  const strs: Uint8Array[] = [];
  let strBytes = 0;
  for (let i = 0; i < n; i++) {
    if (batch.kind[i] === VALUE_KIND.string) {
      const b = encoder.encode(batch.str?.[i] ?? '');
      strs.push(b);
      strBytes += 4 + b.length;
    }
  }
  const size = 12 + namesBytes + n * (4 + 8 + 8 + 1 + 1) + strBytes;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, n, true);
  dv.setUint32(8, names.length, true);
  let o = 12;
  for (const b of names) {
    dv.setUint16(o, b.length, true);
    out.set(b, o + 2);
    o += 2 + b.length;
  }
  for (let i = 0; i < n; i++, o += 4) dv.setUint32(o, rowIdx[i] as number, true);
  for (let i = 0; i < n; i++, o += 8) dv.setFloat64(o, batch.ts[i] as number, true);
  for (let i = 0; i < n; i++, o += 8) dv.setFloat64(o, batch.num[i] as number, true);
  out.set(batch.kind, o);
  o += n;
  out.set(batch.quality, o);
  o += n;
  for (const b of strs) {
    dv.setUint32(o, b.length, true);
    out.set(b, o + 4);
    o += 4 + b.length;
  }
  return out;
}

/**
 * Decodes bytes written by {@link encodeBatch}.
 * @throws GembaError GEMBA_BATCH_DECODE when the bytes are truncated, corrupt or not a batch.
 */
export function decodeBatch(bytes: Uint8Array): SampleBatch {
  const fail = (why: string): never => {
    throw new GembaError('GEMBA_BATCH_DECODE', `cannot decode sample batch (${bytes.length} bytes): ${why}`);
  };
  if (bytes.length < 12) fail('shorter than the header');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== MAGIC) fail('wrong magic number');
  const n = dv.getUint32(4, true);
  const nNames = dv.getUint32(8, true);
  if (n * 22 > bytes.length || nNames > n) fail(`header claims ${n} rows and ${nNames} signals`);
  let o = 12;
  const names: string[] = [];
  try {
    for (let k = 0; k < nNames; k++) {
      if (o + 2 > bytes.length) fail('truncated signal table');
      const len = dv.getUint16(o, true);
      if (o + 2 + len > bytes.length) fail('truncated signal name');
      names.push(decoder.decode(bytes.subarray(o + 2, o + 2 + len)));
      o += 2 + len;
    }
  } catch (err: unknown) {
    if (err instanceof GembaError) throw err;
    fail('a signal name is not UTF-8');
  }
  if (o + n * 22 > bytes.length) fail('truncated columns');
  const signals: string[] = new Array(n);
  for (let i = 0; i < n; i++, o += 4) {
    const k = dv.getUint32(o, true);
    const name = names[k];
    if (name === undefined) fail(`row ${i} names signal #${k} of ${nNames}`);
    signals[i] = name as string;
  }
  const ts = new Float64Array(n);
  for (let i = 0; i < n; i++, o += 8) ts[i] = dv.getFloat64(o, true);
  const num = new Float64Array(n);
  for (let i = 0; i < n; i++, o += 8) num[i] = dv.getFloat64(o, true);
  const kind = bytes.slice(o, o + n);
  o += n;
  const quality = bytes.slice(o, o + n);
  o += n;
  let str: (string | undefined)[] | undefined;
  for (let i = 0; i < n; i++) {
    const k = kind[i] as number;
    if (k > 2) fail(`row ${i} has value kind ${k}`);
    if ((quality[i] as number) > 2) fail(`row ${i} has quality ${quality[i]}`);
    if (k === VALUE_KIND.string) {
      if (o + 4 > bytes.length) fail('truncated string value');
      const len = dv.getUint32(o, true);
      if (o + 4 + len > bytes.length) fail('truncated string value');
      str ??= [];
      try {
        str[i] = decoder.decode(bytes.subarray(o + 4, o + 4 + len));
      } catch {
        fail(`row ${i} string value is not UTF-8`);
      }
      o += 4 + len;
    }
  }
  if (o !== bytes.length) fail(`${bytes.length - o} trailing bytes`);
  return new SampleBatch(signals, ts, num, kind, quality, str);
}
