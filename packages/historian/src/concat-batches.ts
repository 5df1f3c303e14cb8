import { SampleBatch, type SignalId } from '@gemba/core';

/** Joins batches into one, row order kept (later rows win on the same signal and time). */
export function concatBatches(batches: readonly SampleBatch[]): SampleBatch {
  if (batches.length === 1) return batches[0] as SampleBatch;
  let n = 0;
  for (const b of batches) n += b.length;
  const signals: SignalId[] = new Array(n);
  const ts = new Float64Array(n);
  const num = new Float64Array(n);
  const kind = new Uint8Array(n);
  const quality = new Uint8Array(n);
  let str: (string | undefined)[] | undefined;
  let at = 0;
  for (const b of batches) {
    for (let i = 0; i < b.length; i++) signals[at + i] = b.signals[i] as SignalId;
    ts.set(b.ts, at);
    num.set(b.num, at);
    kind.set(b.kind, at);
    quality.set(b.quality, at);
    if (b.str !== undefined) {
      str ??= [];
      for (let i = 0; i < b.length; i++) {
        const s = b.str[i];
        if (s !== undefined) str[at + i] = s;
      }
    }
    at += b.length;
  }
  return new SampleBatch(signals, ts, num, kind, quality, str);
}
