import type { MachineState, StateEventData } from '@gemba/core';
import type { DerivedState } from './machine-state.ts';

/** A closed or open interval of one machine state, source time ms, [startMs, endMs). */
export interface StateInterval {
  state: MachineState;
  reason?: string;
  startMs: number;
  endMs: number;
}

/** Timestamped increments of one counter, kept in time order. */
export class PartEvents {
  ts: number[] = [];
  delta: number[] = [];
  total = 0;

  add(ts: number, delta: number): void {
    if (delta <= 0) return;
    this.ts.push(ts);
    this.delta.push(delta);
    this.total += delta;
  }

  /** Index of the first event with ts > t. */
  #upper(t: number): number {
    let lo = 0;
    let hi = this.ts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.ts[mid] as number) <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Sum of increments with fromMs < ts <= toMs. */
  sum(fromMs: number, toMs: number): number {
    let s = 0;
    for (let i = this.#upper(fromMs); i < this.ts.length; i++) {
      if ((this.ts[i] as number) > toMs) break;
      s += this.delta[i] as number;
    }
    return s;
  }

  /** Drops events at or before `beforeMs`. */
  prune(beforeMs: number): void {
    const n = this.#upper(beforeMs);
    if (n > 0) {
      this.ts.splice(0, n);
      this.delta.splice(0, n);
    }
  }
}

/**
 * One station's state timeline and production counts, in source time. States change only
 * forward in time; a change at the same time as the current state's start replaces it (a
 * state and its reason may arrive as separate samples with one timestamp).
 */
export class StationTracker {
  readonly path: string;
  readonly id: string;
  readonly line: string;
  readonly order: number;
  /** True when the station has a PackML state signal (else its state is inferred). */
  hasStateSignal = false;
  state: MachineState = 'offline';
  reason: string | undefined = 'no data';
  /** Start of the current state, ms; NaN before the first state. */
  since = Number.NaN;
  readonly intervals: StateInterval[] = [];
  // Latest raw inputs.
  packml = Number.NaN;
  reasonCode = 0;
  faultCode = 0;
  stateBad = false;
  /** Last time any signal of the station had a sample (source time). */
  lastSeenMs = Number.NaN;
  lastCounter = [Number.NaN, Number.NaN, Number.NaN];
  lastCountMs = Number.NaN;
  readonly produced = new PartEvents();
  readonly good = new PartEvents();
  readonly scrap = new PartEvents();

  constructor(path: string, id: string, line: string, order: number) {
    this.path = path;
    this.id = id;
    this.line = line;
    this.order = order;
  }

  /**
   * Moves to `next` at `ts`. Returns the closed interval's event data when a state ended,
   * `null` when the state changed without closing an interval, undefined when nothing changed.
   */
  setState(ts: number, next: DerivedState): StateEventData | null | undefined {
    if (next.state === this.state && next.reason === this.reason && !Number.isNaN(this.since))
      return undefined;
    if (Number.isNaN(this.since) || ts <= this.since) {
      this.state = next.state;
      this.reason = next.reason;
      if (Number.isNaN(this.since)) this.since = ts;
      return null;
    }
    const closed: StateInterval = { state: this.state, startMs: this.since, endMs: ts };
    if (this.reason !== undefined) closed.reason = this.reason;
    const prev = this.intervals[this.intervals.length - 1];
    if (
      prev !== undefined &&
      prev.state === closed.state &&
      prev.reason === closed.reason &&
      prev.endMs === closed.startMs
    ) {
      prev.endMs = closed.endMs;
    } else {
      this.intervals.push(closed);
    }
    this.state = next.state;
    this.reason = next.reason;
    this.since = ts;
    const data: StateEventData = {
      state: closed.state,
      startMs: closed.startMs,
      endMs: closed.endMs,
      durationMs: closed.endMs - closed.startMs,
    };
    if (closed.reason !== undefined) data.reason = closed.reason;
    if (closed.state === 'down' && this.faultCode !== 0 && Number.isFinite(this.faultCode)) {
      data.faultCode = this.faultCode;
    }
    return data;
  }

  /** State intervals overlapping [fromMs, toMs), the current one ending at `toMs`, clipped. */
  intervalsIn(fromMs: number, toMs: number): StateInterval[] {
    const out: StateInterval[] = [];
    const iv = this.intervals;
    let lo = 0;
    let hi = iv.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((iv[mid] as StateInterval).endMs <= fromMs) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < iv.length; i++) {
      const x = iv[i] as StateInterval;
      if (x.startMs >= toMs) break;
      out.push(clip(x, fromMs, toMs));
    }
    if (!Number.isNaN(this.since) && this.since < toMs) {
      const cur: StateInterval = { state: this.state, startMs: this.since, endMs: toMs };
      if (this.reason !== undefined) cur.reason = this.reason;
      if (cur.endMs > fromMs) out.push(clip(cur, fromMs, toMs));
    }
    return out;
  }

  /** Drops history that ended before `beforeMs`. */
  prune(beforeMs: number): void {
    let n = 0;
    while (n < this.intervals.length && (this.intervals[n] as StateInterval).endMs <= beforeMs) n++;
    if (n > 0) this.intervals.splice(0, n);
    this.produced.prune(beforeMs);
    this.good.prune(beforeMs);
    this.scrap.prune(beforeMs);
  }
}

function clip(x: StateInterval, fromMs: number, toMs: number): StateInterval {
  const c: StateInterval = {
    state: x.state,
    startMs: Math.max(x.startMs, fromMs),
    endMs: Math.min(x.endMs, toMs),
  };
  if (x.reason !== undefined) c.reason = x.reason;
  return c;
}
