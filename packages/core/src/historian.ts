import type { Quality, Sample, SampleBatch, SampleValue, SignalId } from './sample.ts';

/** Resolutions the historian keeps rollups at. */
export type RollupResolution = '1s' | '1m' | '1h';

/** Milliseconds per rollup resolution. */
export const ROLLUP_MS: Readonly<Record<RollupResolution, number>> = {
  '1s': 1000,
  '1m': 60_000,
  '1h': 3_600_000,
};

/** A time range, [fromMs, toMs) in ms since epoch. */
export interface TimeRange {
  fromMs: number;
  toMs: number;
}

/**
 * Aggregates of one signal over one time bucket. Aggregates cover numeric and boolean values
 * (booleans as 0/1) of `good` or `uncertain` quality; strings and `bad` samples are left out
 * (see {@link isAggregatable}). A bucket with no such sample has no row.
 */
export interface BucketRow {
  signal: SignalId;
  /** Bucket start, ms since epoch (aligned to multiples of the bucket width from the epoch). */
  bucketMs: number;
  count: number;
  mean: number;
  min: number;
  max: number;
  first: number;
  last: number;
  /** Sample standard deviation (n − 1); 0 for a single value. */
  stddev: number;
}

/** Kinds of events the historian keeps beside samples. */
export type EventKind = 'state' | 'alarm' | 'audit' | 'order' | 'system';

/** A discrete event: a state change, an alarm transition, an audit record, a production order. */
export interface HistorianEvent {
  /** Unique id; appending the same id twice keeps one event (idempotent). */
  id: string;
  kind: EventKind;
  /** Namespace path of the asset or signal the event is about. */
  source: string;
  /** Event time, ms since epoch. */
  ts: number;
  /** Kind-specific payload (JSON-serialisable). */
  data: Record<string, unknown>;
}

/**
 * Retention per resolution, ms; data older than `now - keep` is removed (raw samples and events
 * by their time, rollup rows by their bucket start).
 */
export interface RetentionPolicy {
  rawMs: number;
  rollupMs: Readonly<Record<RollupResolution, number>>;
  eventsMs: number;
}

/**
 * Where every sample, state change, alarm and rollup is kept. The embedded (DuckDB) and the
 * PostgreSQL backends pass the same contract suite (`historianContractSuite` in
 * `@gemba/core/testing`).
 *
 * Invariants: `append` is idempotent (same signal and ts twice is one row, whatever the order
 * of arrival; the last write wins) and durable once it resolves; rollups are kept up to date
 * as data arrives.
 */
export interface Historian {
  /** Appends a batch; resolves once it is durable. */
  append(batch: SampleBatch): Promise<void>;
  /** Raw samples of one signal in a range, in time order. */
  queryRaw(signal: SignalId, range: TimeRange, limit?: number): Promise<Sample[]>;
  /**
   * Aggregates per bucket of `bucketMs` (a positive integer; buckets aligned to multiples of it
   * from the epoch) for each signal, ordered by signal then bucket. Only samples inside `range`
   * count. Fails with `GEMBA_HISTORIAN_QUERY` on a bad width or range.
   */
  queryBuckets(signals: readonly SignalId[], range: TimeRange, bucketMs: number): Promise<BucketRow[]>;
  /** Rollup rows at a fixed resolution. */
  queryRollup(
    signals: readonly SignalId[],
    resolution: RollupResolution,
    range: TimeRange,
  ): Promise<BucketRow[]>;
  /** The latest sample of each signal (all signals when `signals` is omitted). */
  lastValues(signals?: readonly SignalId[]): Promise<Sample[]>;
  /** Appends events idempotently by id. */
  appendEvents(events: readonly HistorianEvent[]): Promise<void>;
  /** Events in a range, in time order, optionally of one kind and below a source path prefix. */
  queryEvents(
    query: TimeRange & { kind?: EventKind; sourcePrefix?: string; limit?: number },
  ): Promise<HistorianEvent[]>;
  /** Removes data older than the policy allows, relative to `nowMs`. */
  applyRetention(policy: RetentionPolicy, nowMs: number): Promise<void>;
  /** Flushes and closes the store. */
  close(): Promise<void>;
}

/** True when a sample takes part in aggregates and rollups: a finite number or a boolean, not `bad`. */
export function isAggregatable(value: SampleValue, quality: Quality): boolean {
  if (quality === 'bad') return false;
  if (typeof value === 'boolean') return true;
  return typeof value === 'number' && Number.isFinite(value);
}

/**
 * True when an event's `source` lies at or below the namespace path `prefix`
 * (`a/b` matches `a/b` and `a/b/c`, not `a/bc`). An empty prefix matches everything.
 */
export function eventMatchesSource(source: string, prefix: string): boolean {
  const p = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  return p === '' || source === p || source.startsWith(`${p}/`);
}
