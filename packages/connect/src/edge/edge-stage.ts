import {
  type Clock,
  type EdgeOptions,
  type Model,
  QUALITY_CODE,
  type ResolvedBinding,
  type SampleBatch,
  SampleBatchBuilder,
  unitConverter,
  VALUE_KIND,
} from '@gemba/core';

/** A problem the edge stage found in one sample; the sample was fixed up, marked or dropped. */
export interface EdgeProblem {
  signal: string;
  /** `clock-skew` (timestamp in the future), `nan-value`, `missing-timestamp`. */
  problem: 'clock-skew' | 'nan-value' | 'missing-timestamp';
  reason: string;
}

/** Options of {@link EdgeStage}. */
export interface EdgeStageOptions {
  clock: Clock;
  /** A source time further ahead of the receive time than this is clock skew, ms (default 60 000). */
  maxFutureMs?: number;
  /** Called for every problem found (the stage never throws). */
  onProblem?: (problem: EdgeProblem) => void;
}

interface SignalEdge {
  scale: ((v: number) => number) | undefined;
  deadbandAbs: number;
  deadbandPct: number;
  /** Engineering span for percent deadbands; 0 when unknown (then percent of the last value). */
  span: number;
  changeOnly: boolean;
  minIntervalMs: number;
  // What was last let through.
  hasLast: boolean;
  lastNum: number;
  lastStr: string | undefined;
  lastKind: number;
  lastQuality: number;
  lastTs: number;
}

const GOOD = QUALITY_CODE.good;
const UNCERTAIN = QUALITY_CODE.uncertain;
const BAD = QUALITY_CODE.bad;

/**
 * The edge stage between drivers and the bus: per signal (from its binding's `edge` options)
 * it scales (`value * gain + offset`, then `fromUnit` → the signal's unit), applies the
 * timestamp policy (source time; receive time when missing; a source time more than
 * `maxFutureMs` ahead is reported as clock skew, replaced by the receive time and marked
 * `uncertain`), marks non-finite numbers `bad`, and filters: change-only, deadband (absolute,
 * or percent of the engineering range, else of the last value) and a minimum interval.
 * A change of quality always passes the filters. Signals without options pass through.
 * Never throws; problems go to `onProblem`.
 */
export class EdgeStage {
  readonly #clock: Clock;
  readonly #maxFutureMs: number;
  readonly #onProblem: ((p: EdgeProblem) => void) | undefined;
  readonly #signals = new Map<string, SignalEdge>();
  /** Samples dropped by filters (deadband, change-only, rate limit) since start. */
  filtered = 0;

  /**
   * @throws GembaError GEMBA_INVALID_ARGUMENT when a binding names an unknown unit or a unit
   *   of another dimension (the model loader normally catches this first).
   */
  constructor(model: Model, bindings: readonly ResolvedBinding[], options: EdgeStageOptions) {
    this.#clock = options.clock;
    this.#maxFutureMs = options.maxFutureMs ?? 60_000;
    this.#onProblem = options.onProblem;
    for (const b of bindings) {
      const e: EdgeOptions | undefined = b.edge;
      if (e === undefined) continue;
      const sig = model.signal(b.signalPath);
      const gain = e.gain ?? 1;
      const offset = e.offset ?? 0;
      const linear = gain !== 1 || offset !== 0 ? (v: number) => v * gain + offset : undefined;
      const unit = sig?.def.unit;
      const conv =
        e.fromUnit !== undefined && unit !== undefined ? unitConverter(e.fromUnit, unit) : undefined;
      const scale =
        linear !== undefined && conv !== undefined ? (v: number) => conv(linear(v)) : (linear ?? conv);
      const r = sig?.def.range;
      const span = r?.min !== undefined && r.max !== undefined ? r.max - r.min : 0;
      this.#signals.set(b.signalPath, {
        scale,
        deadbandAbs: e.deadband?.absolute ?? 0,
        deadbandPct: e.deadband?.percent ?? 0,
        span,
        changeOnly: e.changeOnly ?? false,
        minIntervalMs: e.minIntervalMs ?? 0,
        hasLast: false,
        lastNum: Number.NaN,
        lastStr: undefined,
        lastKind: 0,
        lastQuality: 0,
        lastTs: 0,
      });
    }
  }

  /** Runs one batch through the stage; returns the samples that pass (possibly the same batch). */
  process(batch: SampleBatch): SampleBatch {
    const n = batch.length;
    const now = this.#clock.now();
    const out = new SampleBatchBuilder(n);
    for (let i = 0; i < n; i++) {
      const signal = batch.signals[i] as string;
      let ts = batch.ts[i] as number;
      let q = batch.quality[i] as number;
      const kind = batch.kind[i] as number;
      let num = batch.num[i] as number;
      if (!(ts > 0) || !Number.isFinite(ts)) {
        ts = now;
      } else if (ts > now + this.#maxFutureMs) {
        this.#problem(
          signal,
          'clock-skew',
          `source time ${new Date(ts).toISOString()} is ${Math.round((ts - now) / 1000)} s ahead of receive time`,
        );
        ts = now;
        if (q === GOOD) q = UNCERTAIN;
      }
      const e = this.#signals.get(signal);
      if (kind === VALUE_KIND.number) {
        if (e?.scale !== undefined && Number.isFinite(num)) num = e.scale(num);
        if (!Number.isFinite(num) && q !== BAD) {
          this.#problem(signal, 'nan-value', `value ${num} is not a finite number`);
          q = BAD;
        }
      }
      const str = kind === VALUE_KIND.string ? batch.str?.[i] : undefined;
      if (e !== undefined && !this.#pass(e, ts, kind, num, str, q)) {
        this.filtered++;
        continue;
      }
      if (kind === VALUE_KIND.number) out.pushNumber(signal, ts, num, qualityName(q));
      else if (kind === VALUE_KIND.boolean) out.push(signal, ts, num !== 0, qualityName(q));
      else out.push(signal, ts, str ?? '', qualityName(q));
    }
    return out.build();
  }

  #pass(e: SignalEdge, ts: number, kind: number, num: number, str: string | undefined, q: number): boolean {
    let pass = true;
    if (e.hasLast && q === e.lastQuality && kind === e.lastKind && q !== BAD) {
      if (e.minIntervalMs > 0 && ts - e.lastTs < e.minIntervalMs) pass = false;
      else if (kind === VALUE_KIND.string) {
        if (e.changeOnly && str === e.lastStr) pass = false;
      } else {
        const d = Math.abs(num - e.lastNum);
        if (e.changeOnly && d === 0) pass = false;
        else if (e.deadbandAbs > 0 && d <= e.deadbandAbs) pass = false;
        else if (e.deadbandPct > 0) {
          const span = e.span > 0 ? e.span : Math.abs(e.lastNum);
          if (d <= (e.deadbandPct / 100) * span) pass = false;
        }
      }
    }
    if (pass) {
      e.hasLast = true;
      e.lastNum = num;
      e.lastStr = str;
      e.lastKind = kind;
      e.lastQuality = q;
      e.lastTs = ts;
    }
    return pass;
  }

  #problem(signal: string, problem: EdgeProblem['problem'], reason: string): void {
    try {
      this.#onProblem?.({ signal, problem, reason: `${signal}: ${reason}` });
    } catch {
      // A failing listener must not break the stage; the gateway's listener does not throw.
    }
  }
}

function qualityName(q: number): 'good' | 'uncertain' | 'bad' {
  return q === GOOD ? 'good' : q === UNCERTAIN ? 'uncertain' : 'bad';
}
