import {
  GembaError,
  type Quality,
  type Sample,
  type SampleValue,
  type SignalId,
  type TimeRange,
  VALUE_KIND,
} from '@gemba/core';

const QUALITIES: readonly Quality[] = ['good', 'uncertain', 'bad'];

/**
 * How both backends store a sample's kind and quality in one small integer column:
 * `flags = kind * 4 + quality` (kind: 0 number, 1 boolean, 2 string; quality: 0 good,
 * 1 uncertain, 2 bad). A row takes part in aggregates when `flags < 8 and flags % 4 < 2`
 * and its number is finite.
 */
export function packFlags(kind: number, quality: number): number {
  return kind * 4 + quality;
}

/** SQL predicate over a row's `flags` and `num` that selects the rows aggregates cover. */
export const AGGREGATABLE_SQL = '(flags < 8 AND flags % 4 < 2 AND isfinite(num))';

/** The value a stored row stands for. */
export function unpackValue(flags: number, num: number, str: string | null): SampleValue {
  const kind = flags >> 2;
  if (kind === VALUE_KIND.boolean) return num !== 0;
  if (kind === VALUE_KIND.string) return str ?? '';
  return num;
}

/** The quality a stored row stands for. */
export function unpackQuality(flags: number): Quality {
  return QUALITIES[flags & 3] ?? 'bad';
}

/** A stored row as a {@link Sample}. */
export function toSample(
  signal: SignalId,
  ts: number,
  num: number,
  str: string | null,
  flags: number,
): Sample {
  return { signal, ts, value: unpackValue(flags, num, str), quality: unpackQuality(flags) };
}

/** Throws `GEMBA_HISTORIAN_QUERY` unless the range is finite. */
export function checkRange(range: TimeRange): void {
  if (!(Number.isFinite(range.fromMs) && Number.isFinite(range.toMs))) {
    throw new GembaError(
      'GEMBA_HISTORIAN_QUERY',
      `time range must be finite ms since epoch, got ${range.fromMs}..${range.toMs}`,
    );
  }
}

/** Throws `GEMBA_HISTORIAN_QUERY` unless `bucketMs` is a positive integer. */
export function checkBucket(bucketMs: number): void {
  if (!(Number.isInteger(bucketMs) && bucketMs > 0)) {
    throw new GembaError(
      'GEMBA_HISTORIAN_QUERY',
      `bucket width must be a positive integer of ms, got ${bucketMs}`,
    );
  }
}

/** A JavaScript number from a driver value (BIGINT columns arrive as bigint or string). */
export function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint' || typeof v === 'string') return Number(v);
  if (v === null || v === undefined) return Number.NaN;
  return Number(v);
}

/** Standard deviation (n − 1) from a count and a sum of squared deviations. */
export function stddevOf(count: number, m2: number): number {
  return count > 1 ? Math.sqrt(Math.max(0, m2) / (count - 1)) : 0;
}

/** Day partition start, ms since epoch (UTC). */
export const DAY_MS = 86_400_000;

/** Floors `ts` to a multiple of `width`. */
export function floorTo(ts: number, width: number): number {
  return Math.floor(ts / width) * width;
}

/**
 * Groups sorted bucket starts (`step` apart at least) into [from, to) ranges to recompute,
 * bridging gaps up to `maxGapMs` (recomputing an unchanged bucket is harmless and far cheaper
 * than one statement per bucket) and cutting ranges at `maxSpanMs`.
 */
export function bridgeRanges(
  sorted: readonly number[],
  step: number,
  maxGapMs: number,
  maxSpanMs: number,
): [number, number][] {
  const out: [number, number][] = [];
  for (const v of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && v - last[1] <= maxGapMs && v + step - last[0] <= maxSpanMs) last[1] = v + step;
    else out.push([v, v + step]);
  }
  return out;
}
