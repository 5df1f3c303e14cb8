import type { BucketRow, RollupResolution } from '@gemba/core';
import { ROLLUP_MS } from '@gemba/core';

/** The resolutions the engine aggregates at, in array order. */
export const WINDOW_RESOLUTIONS: readonly RollupResolution[] = ['1s', '1m', '1h'];
const R = WINDOW_RESOLUTIONS.length;
const WIDTHS = WINDOW_RESOLUTIONS.map((r) => ROLLUP_MS[r]);

/**
 * Tumbling-window aggregates (count, mean, min, max, first, last, sample standard deviation)
 * per signal at 1 s, 1 min and 1 h, aligned to the epoch, in source time. Welford's update
 * keeps mean and variance stable; all state lives in typed arrays (no allocation per sample).
 * A bucket closes when a later sample of the signal arrives or when {@link closeIdle} finds it
 * past its end; closed buckets collect as {@link BucketRow}s until {@link drain}.
 */
export class Windows {
  readonly #paths: readonly string[];
  readonly #start: Float64Array;
  readonly #count: Float64Array;
  readonly #mean: Float64Array;
  readonly #m2: Float64Array;
  readonly #min: Float64Array;
  readonly #max: Float64Array;
  readonly #first: Float64Array;
  readonly #last: Float64Array;
  #closed: BucketRow[][] = WINDOW_RESOLUTIONS.map(() => []);

  constructor(paths: readonly string[]) {
    const n = paths.length * R;
    this.#paths = paths;
    this.#start = new Float64Array(n);
    this.#count = new Float64Array(n);
    this.#mean = new Float64Array(n);
    this.#m2 = new Float64Array(n);
    this.#min = new Float64Array(n);
    this.#max = new Float64Array(n);
    this.#first = new Float64Array(n);
    this.#last = new Float64Array(n);
  }

  /**
   * When false, closed buckets are dropped instead of kept as rows (nobody consumes them), so
   * that closing a bucket allocates nothing.
   */
  emit = true;

  /** Adds the finite value `values[idx]` of signal `idx` at source time `times[idx]`. */
  add(idx: number, times: Float64Array, values: Float64Array): void {
    const ts = times[idx] as number;
    const v = values[idx] as number;
    for (let r = 0; r < R; r++) {
      const j = idx * R + r;
      const w = WIDTHS[r] as number;
      const b = ts - (ts % w);
      let c = this.#count[j] as number;
      if (c > 0 && b !== this.#start[j]) {
        this.#close(idx, r);
        c = 0;
      }
      if (c === 0) {
        this.#start[j] = b;
        this.#mean[j] = 0;
        this.#m2[j] = 0;
        this.#min[j] = v;
        this.#max[j] = v;
        this.#first[j] = v;
      }
      c += 1;
      this.#count[j] = c;
      const mean = this.#mean[j] as number;
      const d = v - mean;
      const m = mean + d / c;
      this.#mean[j] = m;
      this.#m2[j] = (this.#m2[j] as number) + d * (v - m);
      if (v < (this.#min[j] as number)) this.#min[j] = v;
      if (v > (this.#max[j] as number)) this.#max[j] = v;
      this.#last[j] = v;
    }
  }

  #row(idx: number, r: number): BucketRow {
    const j = idx * R + r;
    const c = this.#count[j] as number;
    return {
      signal: this.#paths[idx] as string,
      bucketMs: this.#start[j] as number,
      count: c,
      mean: this.#mean[j] as number,
      min: this.#min[j] as number,
      max: this.#max[j] as number,
      first: this.#first[j] as number,
      last: this.#last[j] as number,
      stddev: c > 1 ? Math.sqrt((this.#m2[j] as number) / (c - 1)) : 0,
    };
  }

  #close(idx: number, r: number): void {
    if (this.emit) (this.#closed[r] as BucketRow[]).push(this.#row(idx, r));
    this.#count[idx * R + r] = 0;
  }

  /** The open bucket of a signal at a resolution, or undefined when empty. */
  current(idx: number, resolution: RollupResolution): BucketRow | undefined {
    const r = WINDOW_RESOLUTIONS.indexOf(resolution);
    if (r < 0 || (this.#count[idx * R + r] as number) === 0) return undefined;
    return this.#row(idx, r);
  }

  /** Closes every open bucket whose end is at or before `nowMs - graceMs`. */
  closeIdle(nowMs: number, graceMs: number): void {
    const n = this.#paths.length;
    for (let r = 0; r < R; r++) {
      const w = WIDTHS[r] as number;
      for (let idx = 0; idx < n; idx++) {
        const j = idx * R + r;
        if ((this.#count[j] as number) > 0 && (this.#start[j] as number) + w + graceMs <= nowMs)
          this.#close(idx, r);
      }
    }
  }

  /** Closes every open bucket (at stop). */
  closeAll(): void {
    this.closeIdle(Number.POSITIVE_INFINITY, 0);
  }

  /** True when closed rows wait to be drained. */
  get hasClosed(): boolean {
    return this.#closed.some((rows) => rows.length > 0);
  }

  /** Takes the closed rows per resolution. */
  drain(): Array<[RollupResolution, BucketRow[]]> {
    const out: Array<[RollupResolution, BucketRow[]]> = [];
    this.#closed.forEach((rows, r) => {
      if (rows.length > 0) out.push([WINDOW_RESOLUTIONS[r] as RollupResolution, rows]);
    });
    this.#closed = WINDOW_RESOLUTIONS.map(() => []);
    return out;
  }
}
