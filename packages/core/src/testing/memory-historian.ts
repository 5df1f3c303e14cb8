import { GembaError } from '../errors.ts';
import {
  type BucketRow,
  type EventKind,
  eventMatchesSource,
  type Historian,
  type HistorianEvent,
  isAggregatable,
  type RetentionPolicy,
  ROLLUP_MS,
  type RollupResolution,
  type TimeRange,
} from '../historian.ts';
import type { Quality, Sample, SampleBatch, SampleValue, SignalId } from '../sample.ts';

/** Running aggregate of one bucket; merged with Chan et al.'s parallel variance formula. */
interface Agg {
  count: number;
  mean: number;
  /** Sum of squared deviations from the mean. */
  m2: number;
  min: number;
  max: number;
  first: number;
  firstTs: number;
  last: number;
  lastTs: number;
}

interface Stored {
  value: SampleValue;
  quality: Quality;
}

function addValue(a: Agg | undefined, ts: number, v: number): Agg {
  if (a === undefined) {
    return { count: 1, mean: v, m2: 0, min: v, max: v, first: v, firstTs: ts, last: v, lastTs: ts };
  }
  a.count++;
  const d = v - a.mean;
  a.mean += d / a.count;
  a.m2 += d * (v - a.mean);
  if (v < a.min) a.min = v;
  if (v > a.max) a.max = v;
  if (ts < a.firstTs) {
    a.first = v;
    a.firstTs = ts;
  }
  if (ts >= a.lastTs) {
    a.last = v;
    a.lastTs = ts;
  }
  return a;
}

function mergeAgg(a: Agg | undefined, b: Agg): Agg {
  if (a === undefined) return { ...b };
  const n = a.count + b.count;
  const d = b.mean - a.mean;
  a.m2 += b.m2 + (d * d * a.count * b.count) / n;
  a.mean += (d * b.count) / n;
  a.count = n;
  if (b.min < a.min) a.min = b.min;
  if (b.max > a.max) a.max = b.max;
  if (b.firstTs < a.firstTs) {
    a.first = b.first;
    a.firstTs = b.firstTs;
  }
  if (b.lastTs >= a.lastTs) {
    a.last = b.last;
    a.lastTs = b.lastTs;
  }
  return a;
}

function toRow(signal: SignalId, bucketMs: number, a: Agg): BucketRow {
  return {
    signal,
    bucketMs,
    count: a.count,
    mean: a.mean,
    min: a.min,
    max: a.max,
    first: a.first,
    last: a.last,
    stddev: a.count > 1 ? Math.sqrt(a.m2 / (a.count - 1)) : 0,
  };
}

function checkRange(range: TimeRange): void {
  if (!(Number.isFinite(range.fromMs) && Number.isFinite(range.toMs))) {
    throw new GembaError(
      'GEMBA_HISTORIAN_QUERY',
      `time range must be finite, got ${range.fromMs}..${range.toMs}`,
    );
  }
}

const RESOLUTIONS: readonly RollupResolution[] = ['1s', '1m', '1h'];

/**
 * A complete in-memory {@link Historian}: the reference implementation of the contract.
 * Passes `historianContractSuite`; used by tests of other parts (engine, simulation calibration)
 * and small tools. Data lives as long as the object; `append` resolves at once.
 *
 * Rollups are kept as data arrives: each append marks its 1 s buckets dirty, and the next rollup
 * query (or retention) recomputes them, cascading 1 s → 1 min → 1 h.
 */
export class MemoryHistorian implements Historian {
  readonly #raw = new Map<SignalId, Map<number, Stored>>();
  readonly #last = new Map<SignalId, Sample>();
  readonly #rollups: Record<RollupResolution, Map<SignalId, Map<number, Agg>>> = {
    '1s': new Map(),
    '1m': new Map(),
    '1h': new Map(),
  };
  /** Dirty 1 s buckets per signal. */
  readonly #dirty = new Map<SignalId, Set<number>>();
  readonly #events = new Map<string, HistorianEvent>();
  #closed = false;

  #checkOpen(): void {
    if (this.#closed) throw new GembaError('GEMBA_HISTORIAN_UNAVAILABLE', 'the memory historian is closed');
  }

  async append(batch: SampleBatch): Promise<void> {
    this.#checkOpen();
    for (let i = 0; i < batch.length; i++) {
      const signal = batch.signals[i] as SignalId;
      const ts = batch.ts[i] as number;
      const value = batch.valueAt(i);
      const quality = batch.qualityAt(i);
      let series = this.#raw.get(signal);
      if (series === undefined) {
        series = new Map();
        this.#raw.set(signal, series);
      }
      series.set(ts, { value, quality });
      const last = this.#last.get(signal);
      if (last === undefined || ts >= last.ts) this.#last.set(signal, { signal, ts, value, quality });
      let dirty = this.#dirty.get(signal);
      if (dirty === undefined) {
        dirty = new Set();
        this.#dirty.set(signal, dirty);
      }
      dirty.add(Math.floor(ts / 1000) * 1000);
    }
  }

  async queryRaw(signal: SignalId, range: TimeRange, limit?: number): Promise<Sample[]> {
    this.#checkOpen();
    checkRange(range);
    const series = this.#raw.get(signal);
    if (series === undefined) return [];
    const out: Sample[] = [];
    for (const [ts, s] of series) {
      if (ts >= range.fromMs && ts < range.toMs) out.push({ signal, ts, value: s.value, quality: s.quality });
    }
    out.sort((a, b) => a.ts - b.ts);
    return limit === undefined ? out : out.slice(0, Math.max(0, limit));
  }

  async queryBuckets(signals: readonly SignalId[], range: TimeRange, bucketMs: number): Promise<BucketRow[]> {
    this.#checkOpen();
    checkRange(range);
    if (!(Number.isInteger(bucketMs) && bucketMs > 0)) {
      throw new GembaError(
        'GEMBA_HISTORIAN_QUERY',
        `bucket width must be a positive integer of ms, got ${bucketMs}`,
      );
    }
    const out: BucketRow[] = [];
    for (const signal of [...new Set(signals)].sort()) {
      const series = this.#raw.get(signal);
      if (series === undefined) continue;
      const buckets = new Map<number, Agg>();
      const rows = [...series]
        .filter(([ts]) => ts >= range.fromMs && ts < range.toMs)
        .sort((a, b) => a[0] - b[0]);
      for (const [ts, s] of rows) {
        if (!isAggregatable(s.value, s.quality)) continue;
        const b = Math.floor(ts / bucketMs) * bucketMs;
        buckets.set(b, addValue(buckets.get(b), ts, Number(s.value)));
      }
      for (const b of [...buckets.keys()].sort((x, y) => x - y))
        out.push(toRow(signal, b, buckets.get(b) as Agg));
    }
    return out;
  }

  /** Recomputes dirty rollup buckets: 1 s from raw, 1 min from 1 s, 1 h from 1 min. */
  #refreshRollups(): void {
    for (const [signal, seconds] of this.#dirty) {
      const series = this.#raw.get(signal);
      const r1s = this.#map('1s', signal);
      const minutes = new Set<number>();
      const fresh = new Map<number, Agg>();
      if (series !== undefined) {
        for (const [ts, s] of series) {
          const sec = Math.floor(ts / 1000) * 1000;
          if (seconds.has(sec) && isAggregatable(s.value, s.quality)) {
            fresh.set(sec, addValue(fresh.get(sec), ts, Number(s.value)));
          }
        }
      }
      for (const sec of seconds) {
        const agg = fresh.get(sec);
        if (agg === undefined) r1s.delete(sec);
        else r1s.set(sec, agg);
        minutes.add(Math.floor(sec / 60_000) * 60_000);
      }
      const hours = this.#cascade(signal, '1s', '1m', minutes);
      this.#cascade(signal, '1m', '1h', hours);
    }
    this.#dirty.clear();
  }

  #cascade(
    signal: SignalId,
    from: RollupResolution,
    to: RollupResolution,
    buckets: Set<number>,
  ): Set<number> {
    const src = this.#map(from, signal);
    const dst = this.#map(to, signal);
    const width = ROLLUP_MS[to];
    const parents = new Set<number>();
    for (const b of buckets) {
      let agg: Agg | undefined;
      const step = ROLLUP_MS[from];
      for (let t = b; t < b + width; t += step) {
        const a = src.get(t);
        if (a !== undefined) agg = mergeAgg(agg, a);
      }
      if (agg === undefined) dst.delete(b);
      else dst.set(b, agg);
      parents.add(Math.floor(b / 3_600_000) * 3_600_000);
    }
    return parents;
  }

  #map(res: RollupResolution, signal: SignalId): Map<number, Agg> {
    let m = this.#rollups[res].get(signal);
    if (m === undefined) {
      m = new Map();
      this.#rollups[res].set(signal, m);
    }
    return m;
  }

  async queryRollup(
    signals: readonly SignalId[],
    resolution: RollupResolution,
    range: TimeRange,
  ): Promise<BucketRow[]> {
    this.#checkOpen();
    checkRange(range);
    if (!RESOLUTIONS.includes(resolution)) {
      throw new GembaError('GEMBA_HISTORIAN_QUERY', `unknown rollup resolution '${String(resolution)}'`);
    }
    this.#refreshRollups();
    const out: BucketRow[] = [];
    for (const signal of [...new Set(signals)].sort()) {
      const m = this.#rollups[resolution].get(signal);
      if (m === undefined) continue;
      const keys = [...m.keys()].filter((b) => b >= range.fromMs && b < range.toMs).sort((x, y) => x - y);
      for (const b of keys) out.push(toRow(signal, b, m.get(b) as Agg));
    }
    return out;
  }

  async lastValues(signals?: readonly SignalId[]): Promise<Sample[]> {
    this.#checkOpen();
    const names = signals === undefined ? [...this.#last.keys()] : [...new Set(signals)];
    const out: Sample[] = [];
    for (const s of names.sort()) {
      const v = this.#last.get(s);
      if (v !== undefined) out.push({ ...v });
    }
    return out;
  }

  async appendEvents(events: readonly HistorianEvent[]): Promise<void> {
    this.#checkOpen();
    for (const e of events) this.#events.set(e.id, structuredClone(e));
  }

  async queryEvents(
    query: TimeRange & { kind?: EventKind; sourcePrefix?: string; limit?: number },
  ): Promise<HistorianEvent[]> {
    this.#checkOpen();
    checkRange(query);
    const out = [...this.#events.values()]
      .filter(
        (e) =>
          e.ts >= query.fromMs &&
          e.ts < query.toMs &&
          (query.kind === undefined || e.kind === query.kind) &&
          (query.sourcePrefix === undefined || eventMatchesSource(e.source, query.sourcePrefix)),
      )
      .sort((a, b) => a.ts - b.ts || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((e) => structuredClone(e));
    return query.limit === undefined ? out : out.slice(0, Math.max(0, query.limit));
  }

  async applyRetention(policy: RetentionPolicy, nowMs: number): Promise<void> {
    this.#checkOpen();
    this.#refreshRollups();
    const rawCut = nowMs - policy.rawMs;
    for (const series of this.#raw.values())
      for (const ts of [...series.keys()]) if (ts < rawCut) series.delete(ts);
    for (const res of RESOLUTIONS) {
      const cut = nowMs - policy.rollupMs[res];
      for (const m of this.#rollups[res].values()) for (const b of [...m.keys()]) if (b < cut) m.delete(b);
    }
    const evCut = nowMs - policy.eventsMs;
    for (const [id, e] of this.#events) if (e.ts < evCut) this.#events.delete(id);
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}
