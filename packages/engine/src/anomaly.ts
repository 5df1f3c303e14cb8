import type { AnomalyKind } from './types.ts';

/** Parameters of the anomaly detectors. */
export interface AnomalyParams {
  /** Samples that form a signal's baseline mean and σ (for rate of change and stuck values). */
  baselineSamples: number;
  /** Minute means that form the baseline of the SPC detectors (EWMA, CUSUM, run rules). */
  spcBaselineMinutes: number;
  /** EWMA weight λ and control-limit width L (in σ of the EWMA statistic). */
  ewmaLambda: number;
  ewmaL: number;
  /** CUSUM reference k and decision interval h, in baseline σ. */
  cusumK: number;
  cusumH: number;
  /** A step between consecutive samples larger than this many σ is a rate-of-change anomaly. */
  rateSigmas: number;
  /** This many identical consecutive values of a signal that normally varies is a stuck sensor. */
  stuckSamples: number;
  /** Per-minute means the trend is fitted on, and the least needed. */
  trendWindowMin: number;
  trendMinPoints: number;
  /** t statistic of the slope above which a trend is significant. */
  trendT: number;
  /** A significant trend is flagged when projected to cross its limit within this time, ms. */
  trendHorizonMs: number;
  /** After an event, the same kind on the same signal is not reported again for this long, ms. */
  holdoffMs: number;
}

/** Default detector parameters (Montgomery, Introduction to Statistical Quality Control, §9.1–9.2). */
export const DEFAULT_ANOMALY_PARAMS: AnomalyParams = {
  baselineSamples: 600,
  spcBaselineMinutes: 30,
  ewmaLambda: 0.2,
  ewmaL: 3,
  cusumK: 0.5,
  cusumH: 5,
  rateSigmas: 6,
  stuckSamples: 30,
  trendWindowMin: 60,
  trendMinPoints: 15,
  trendT: 4,
  trendHorizonMs: 8 * 3_600_000,
  holdoffMs: 600_000,
};

/** The kinds in bit order. */
export const ANOMALY_KINDS: readonly AnomalyKind[] = [
  'limit',
  'ewma',
  'cusum',
  'run-rule',
  'rate-of-change',
  'stuck',
  'trend',
];
const K = ANOMALY_KINDS.length;
const LIMIT = 0;
const EWMA = 1;
const CUSUM = 2;
const RUN = 3;
const RATE = 4;
const STUCK = 5;
const TREND = 6;

/** Called for each detected anomaly (edge-triggered). */
export type AnomalyEmit = (idx: number, kind: AnomalyKind, detail: string, ts: number, value: number) => void;

/**
 * A signal's learnt baselines: of its samples (rate of change, stuck) and of its minute means
 * (EWMA, CUSUM, run rules); NaN until formed. Kept beside the data so that an engine that takes
 * a line over judges it against the same baselines (see `AnomalyDetectors.setBaseline`).
 */
export interface AnomalyBaseline {
  mean: number;
  sigma: number;
  spcMean: number;
  spcSigma: number;
}

/**
 * Anomaly detection on process values, state per signal in typed arrays:
 * - `limit`: the value leaves its normal range;
 * - `ewma`: the EWMA statistic of the minute means leaves μ0 ± L σ √(λ/(2−λ)) (drift);
 * - `cusum`: the tabular CUSUM C± of the minute means exceeds h σ (level shift), then restarts;
 * - `run-rule`: Western Electric rules 1–4 on the minute means against their baseline μ0, σ;
 * - `rate-of-change`: a step larger than `rateSigmas` σ between consecutive samples;
 * - `stuck`: `stuckSamples` identical values in a row of a signal that normally varies;
 * - `trend`: a significant linear trend of the per-minute means projected to cross the
 *   signal's limit (or normal range) within the horizon.
 * The SPC detectors work on subgroups (one-minute means, as an X̄ chart does) so that a 1 Hz
 * signal does not flood with the run rules' per-point false-alarm rate; their baseline (μ0, σ of
 * the minute means) is learnt from the first `spcBaselineMinutes` minutes, the raw baseline
 * (for rate of change and stuck values) from the first `baselineSamples` samples.
 */
export class AnomalyDetectors {
  readonly #p: AnomalyParams;
  readonly #enabled: Uint8Array;
  readonly #lo: Float64Array;
  readonly #hi: Float64Array;
  readonly #bc: Float64Array;
  readonly #bmean: Float64Array;
  readonly #bm2: Float64Array;
  readonly #sigma: Float64Array;
  readonly #ewma: Float64Array;
  readonly #mc: Float64Array;
  readonly #mMean: Float64Array;
  readonly #mM2: Float64Array;
  readonly #mSigma: Float64Array;
  readonly #cuHi: Float64Array;
  readonly #cuLo: Float64Array;
  readonly #bits: Int32Array;
  readonly #last: Float64Array;
  readonly #stuck: Int32Array;
  readonly #lastTs: Float64Array;
  readonly #gap: Float64Array;
  readonly #active: Uint8Array;
  readonly #lastFire: Float64Array;
  readonly #minStart: Float64Array;
  readonly #minSum: Float64Array;
  readonly #minCount: Float64Array;
  readonly #ring: Float64Array;
  readonly #ringT: Float64Array;
  readonly #ringN: Int32Array;
  readonly #ringHead: Int32Array;
  readonly #trendLimitHi: Float64Array;
  readonly #trendLimitLo: Float64Array;
  readonly #emit: AnomalyEmit;
  readonly #learnt: ((idx: number, ts: number) => void) | undefined;
  /** While true (a replay of history), anomalies and baselines are learnt but not reported. */
  #muted = false;

  /**
   * @param ranges per signal: `normal` range for limit anomalies and `trend` limits (hi/lo);
   *   undefined entries are not analysed.
   */
  constructor(
    ranges: ReadonlyArray<
      { normalMin?: number; normalMax?: number; trendLo?: number; trendHi?: number } | undefined
    >,
    params: AnomalyParams,
    emit: AnomalyEmit,
    learnt?: (idx: number, ts: number) => void,
  ) {
    const n = ranges.length;
    this.#p = params;
    this.#emit = emit;
    this.#learnt = learnt;
    this.#enabled = new Uint8Array(n);
    this.#lo = new Float64Array(n).fill(Number.NEGATIVE_INFINITY);
    this.#hi = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
    this.#trendLimitHi = new Float64Array(n).fill(Number.NaN);
    this.#trendLimitLo = new Float64Array(n).fill(Number.NaN);
    ranges.forEach((r, i) => {
      if (r === undefined) return;
      this.#enabled[i] = 1;
      if (r.normalMin !== undefined) this.#lo[i] = r.normalMin;
      if (r.normalMax !== undefined) this.#hi[i] = r.normalMax;
      if (r.trendHi !== undefined) this.#trendLimitHi[i] = r.trendHi;
      if (r.trendLo !== undefined) this.#trendLimitLo[i] = r.trendLo;
    });
    this.#bc = new Float64Array(n);
    this.#bmean = new Float64Array(n);
    this.#bm2 = new Float64Array(n);
    this.#sigma = new Float64Array(n).fill(Number.NaN);
    this.#ewma = new Float64Array(n);
    this.#mc = new Float64Array(n);
    this.#mMean = new Float64Array(n);
    this.#mM2 = new Float64Array(n);
    this.#mSigma = new Float64Array(n).fill(Number.NaN);
    this.#cuHi = new Float64Array(n);
    this.#cuLo = new Float64Array(n);
    this.#bits = new Int32Array(n * 6);
    this.#last = new Float64Array(n).fill(Number.NaN);
    this.#stuck = new Int32Array(n);
    this.#lastTs = new Float64Array(n).fill(Number.NaN);
    this.#gap = new Float64Array(n);
    this.#active = new Uint8Array(n * K);
    this.#lastFire = new Float64Array(n * K).fill(Number.NEGATIVE_INFINITY);
    this.#minStart = new Float64Array(n).fill(Number.NaN);
    this.#minSum = new Float64Array(n);
    this.#minCount = new Float64Array(n);
    const w = params.trendWindowMin;
    this.#ring = new Float64Array(n * w);
    this.#ringT = new Float64Array(n * w);
    this.#ringN = new Int32Array(n);
    this.#ringHead = new Int32Array(n);
  }

  /** Whether signal `idx` is analysed. */
  enabled(idx: number): boolean {
    return this.#enabled[idx] === 1;
  }

  /** Both learnt baselines of a signal (NaN where not formed yet). */
  baselines(idx: number): AnomalyBaseline {
    return {
      mean: this.#bmean[idx] as number,
      sigma: this.#sigma[idx] as number,
      spcMean: this.#mMean[idx] as number,
      spcSigma: this.#mSigma[idx] as number,
    };
  }

  /**
   * Takes a signal's baselines as another engine learnt them (the formed ones: finite mean and
   * σ); the detectors then judge new values against them instead of learning their own.
   */
  setBaseline(idx: number, b: AnomalyBaseline): void {
    if (this.#enabled[idx] !== 1) return;
    if (Number.isFinite(b.mean) && Number.isFinite(b.sigma)) {
      this.#bmean[idx] = b.mean;
      this.#sigma[idx] = b.sigma;
      this.#bc[idx] = this.#p.baselineSamples;
    }
    if (Number.isFinite(b.spcMean) && Number.isFinite(b.spcSigma)) {
      this.#mMean[idx] = b.spcMean;
      this.#mSigma[idx] = b.spcSigma;
      this.#mc[idx] = this.#p.spcBaselineMinutes;
      this.#ewma[idx] = b.spcMean;
    }
  }

  /**
   * Runs `replay` (history fed through {@link add}) with reporting off: the statistics, edges and
   * hold-offs come out as if live, but nothing that happened then is reported again.
   */
  replay(replay: () => void): void {
    this.#muted = true;
    try {
      replay();
    } finally {
      this.#muted = false;
    }
  }

  /**
   * Edge detection for one kind: true when the condition just became true (the caller then
   * reports it with {@link #fire}); false otherwise, re-arming when the condition is false.
   * Only small integers and booleans cross this call, so nothing is boxed per sample.
   */
  #edge(idx: number, kind: number, on: boolean): boolean {
    const j = idx * K + kind;
    if (!on) {
      this.#active[j] = 0;
      return false;
    }
    if (this.#active[j] === 1) return false;
    this.#active[j] = 1;
    return true;
  }

  /** Reports an anomaly unless the same kind fired on the signal within the hold-off. */
  #fire(idx: number, kind: number, info: number, ts: number, v: number, text?: string): void {
    const j = idx * K + kind;
    if (ts - (this.#lastFire[j] as number) < this.#p.holdoffMs) return;
    this.#lastFire[j] = ts;
    if (this.#muted) return;
    this.#emit(idx, ANOMALY_KINDS[kind] as AnomalyKind, text ?? detail(kind, info), ts, v);
  }

  /** Takes the finite value `values[idx]` of signal `idx` at source time `times[idx]`. */
  add(idx: number, times: Float64Array, values: Float64Array): void {
    if (this.#enabled[idx] !== 1) return;
    const ts = times[idx] as number;
    const v = values[idx] as number;
    const p = this.#p;
    // Limit: outside the normal range.
    const below = v < (this.#lo[idx] as number);
    const above = v > (this.#hi[idx] as number);
    if (this.#edge(idx, LIMIT, below || above)) this.#fire(idx, LIMIT, above ? 1 : -1, ts, v);
    this.#minute(idx, times, values);
    const last = this.#last[idx] as number;
    this.#last[idx] = v;
    // Typical time between values (EWMA), for the silence check of a frozen sensor.
    const lastTs = this.#lastTs[idx] as number;
    if (!Number.isNaN(lastTs) && ts > lastTs) {
      const g = this.#gap[idx] as number;
      this.#gap[idx] = g > 0 ? 0.9 * g + 0.1 * (ts - lastTs) : ts - lastTs;
    }
    this.#lastTs[idx] = ts;
    // Baseline learning.
    let sigma = this.#sigma[idx] as number;
    if (Number.isNaN(sigma)) {
      const c = (this.#bc[idx] as number) + 1;
      this.#bc[idx] = c;
      const m = this.#bmean[idx] as number;
      const d = v - m;
      const m1 = m + d / c;
      this.#bmean[idx] = m1;
      this.#bm2[idx] = (this.#bm2[idx] as number) + d * (v - m1);
      if (c >= p.baselineSamples) {
        sigma = Math.sqrt((this.#bm2[idx] as number) / (c - 1));
        this.#sigma[idx] = sigma;
        if (!this.#muted) this.#learnt?.(idx, ts);
      }
      return;
    }
    // Stuck: identical values in a row, for a signal whose baseline varies.
    if (v === last) {
      const run = (this.#stuck[idx] as number) + 1;
      this.#stuck[idx] = run;
      if (sigma > 0 && this.#edge(idx, STUCK, run + 1 >= p.stuckSamples))
        this.#fire(idx, STUCK, run + 1, ts, v);
    } else {
      this.#stuck[idx] = 0;
      this.#edge(idx, STUCK, false);
    }
    if (!(sigma > 0)) return;
    // Rate of change between consecutive samples.
    if (!Number.isNaN(last)) {
      const step = Math.abs(v - last) / sigma;
      if (this.#edge(idx, RATE, step > p.rateSigmas)) this.#fire(idx, RATE, step, ts, v);
    }
  }

  /** SPC on one subgroup mean (a minute's mean): EWMA, CUSUM and Western Electric rules. */
  #spc(idx: number, ts: number, x: number): void {
    const p = this.#p;
    let sigma = this.#mSigma[idx] as number;
    if (Number.isNaN(sigma)) {
      const c = (this.#mc[idx] as number) + 1;
      this.#mc[idx] = c;
      const m = this.#mMean[idx] as number;
      const d = x - m;
      const m1 = m + d / c;
      this.#mMean[idx] = m1;
      this.#mM2[idx] = (this.#mM2[idx] as number) + d * (x - m1);
      if (c >= p.spcBaselineMinutes) {
        sigma = Math.sqrt((this.#mM2[idx] as number) / (c - 1));
        this.#mSigma[idx] = sigma;
        this.#ewma[idx] = m1;
        if (!this.#muted) this.#learnt?.(idx, ts);
      }
      return;
    }
    if (!(sigma > 0)) return;
    const mu = this.#mMean[idx] as number;
    const v = x;
    const z = (v - mu) / sigma;
    // EWMA (Montgomery §9.2): z_t = λ x_t + (1 − λ) z_{t−1}; steady-state limits.
    const lam = p.ewmaLambda;
    const e = lam * v + (1 - lam) * (this.#ewma[idx] as number);
    this.#ewma[idx] = e;
    const ewmaLim = p.ewmaL * sigma * Math.sqrt(lam / (2 - lam));
    if (this.#edge(idx, EWMA, Math.abs(e - mu) > ewmaLim)) this.#fire(idx, EWMA, e > mu ? 1 : -1, ts, v);
    // Tabular CUSUM (Montgomery §9.1): C+ = max(0, x − (μ0 + K) + C+), C− likewise.
    const kk = p.cusumK * sigma;
    const hh = p.cusumH * sigma;
    const cHi = Math.max(0, v - (mu + kk) + (this.#cuHi[idx] as number));
    const cLo = Math.max(0, mu - kk - v + (this.#cuLo[idx] as number));
    const shift = cHi > hh || cLo > hh;
    if (this.#edge(idx, CUSUM, shift)) this.#fire(idx, CUSUM, cHi > hh ? 1 : -1, ts, v);
    this.#cuHi[idx] = shift ? 0 : cHi;
    this.#cuLo[idx] = shift ? 0 : cLo;
    // Western Electric rules on side-of-centre bit histories.
    const b = idx * 6;
    const push = (o: number, bit: boolean): number => {
      const y = (((this.#bits[b + o] as number) << 1) | (bit ? 1 : 0)) & 0xff;
      this.#bits[b + o] = y;
      return y;
    };
    const a2 = push(0, z > 2);
    const b2 = push(1, z < -2);
    const a1 = push(2, z > 1);
    const b1 = push(3, z < -1);
    const a0 = push(4, z > 0);
    const b0 = push(5, z < 0);
    let rule = 0;
    if (Math.abs(z) > 3) rule = 1;
    else if (popcount(a2 & 0b111) >= 2 || popcount(b2 & 0b111) >= 2) rule = 2;
    else if (popcount(a1 & 0b11111) >= 4 || popcount(b1 & 0b11111) >= 4) rule = 3;
    else if (a0 === 0xff || b0 === 0xff) rule = 4;
    if (this.#edge(idx, RUN, rule > 0)) this.#fire(idx, RUN, rule, ts, v);
  }

  /**
   * A frozen sensor that reports by exception sends nothing: flags `stuck` when signal `idx`,
   * which normally varies, has had no new value for `stuckSamples` times its typical interval.
   * The caller skips signals that are not expected to report (bad quality, machine stopped).
   */
  checkSilent(idx: number, nowMs: number): void {
    if (this.#enabled[idx] !== 1) return;
    const gap = this.#gap[idx] as number;
    const lastTs = this.#lastTs[idx] as number;
    if (!(gap > 0) || Number.isNaN(lastTs) || !((this.#sigma[idx] as number) > 0)) return;
    const silentMs = nowMs - lastTs;
    if (silentMs > this.#p.stuckSamples * gap && this.#edge(idx, STUCK, true)) {
      this.#fire(
        idx,
        STUCK,
        silentMs,
        nowMs,
        this.#last[idx] as number,
        `no new value for ${Math.round(silentMs / 1000)} s`,
      );
    }
  }

  #minute(idx: number, times: Float64Array, values: Float64Array): void {
    const ts = times[idx] as number;
    const v = values[idx] as number;
    const start = ts - (ts % 60_000);
    const cur = this.#minStart[idx] as number;
    if (cur !== start) {
      if (!Number.isNaN(cur) && (this.#minCount[idx] as number) > 0) {
        this.#pushMinute(idx, cur, (this.#minSum[idx] as number) / (this.#minCount[idx] as number), ts);
      }
      this.#minStart[idx] = start;
      this.#minSum[idx] = 0;
      this.#minCount[idx] = 0;
    }
    this.#minSum[idx] = (this.#minSum[idx] as number) + v;
    this.#minCount[idx] = (this.#minCount[idx] as number) + 1;
  }

  #pushMinute(idx: number, minuteMs: number, mean: number, ts: number): void {
    this.#spc(idx, ts, mean);
    const w = this.#p.trendWindowMin;
    const head = this.#ringHead[idx] as number;
    this.#ring[idx * w + head] = mean;
    this.#ringT[idx * w + head] = minuteMs;
    this.#ringHead[idx] = (head + 1) % w;
    const n = Math.min(w, (this.#ringN[idx] as number) + 1);
    this.#ringN[idx] = n;
    const hiLim = this.#trendLimitHi[idx] as number;
    const loLim = this.#trendLimitLo[idx] as number;
    if (n < this.#p.trendMinPoints || (Number.isNaN(hiLim) && Number.isNaN(loLim))) return;
    // Least squares fit of mean over time (minutes).
    let sx = 0;
    let sy = 0;
    const t0 = minuteMs;
    for (let k = 0; k < n; k++) {
      const j = idx * w + ((head - k + w) % w);
      sx += ((this.#ringT[j] as number) - t0) / 60_000;
      sy += this.#ring[j] as number;
    }
    const mx = sx / n;
    const my = sy / n;
    let sxx = 0;
    let sxy = 0;
    for (let k = 0; k < n; k++) {
      const j = idx * w + ((head - k + w) % w);
      const dx = ((this.#ringT[j] as number) - t0) / 60_000 - mx;
      sxx += dx * dx;
      sxy += dx * ((this.#ring[j] as number) - my);
    }
    if (!(sxx > 0)) return;
    const slope = sxy / sxx;
    const icept = my - slope * mx;
    let sse = 0;
    for (let k = 0; k < n; k++) {
      const j = idx * w + ((head - k + w) % w);
      const x = ((this.#ringT[j] as number) - t0) / 60_000;
      const r = (this.#ring[j] as number) - (icept + slope * x);
      sse += r * r;
    }
    const se = Math.sqrt(sse / Math.max(1, n - 2) / sxx);
    const t = se > 0 ? slope / se : slope !== 0 ? Number.POSITIVE_INFINITY * Math.sign(slope) : 0;
    const now = icept; // fitted value at the newest minute (x = 0)
    let crossMin = Number.POSITIVE_INFINITY;
    let limit = Number.NaN;
    if (slope > 0 && !Number.isNaN(hiLim) && now < hiLim) {
      crossMin = (hiLim - now) / slope;
      limit = hiLim;
    } else if (slope < 0 && !Number.isNaN(loLim) && now > loLim) {
      crossMin = (loLim - now) / slope;
      limit = loLim;
    }
    const on = Math.abs(t) > this.#p.trendT && crossMin * 60_000 <= this.#p.trendHorizonMs;
    if (this.#edge(idx, TREND, on)) {
      const dir = slope > 0 ? 'rising' : 'falling';
      const rate = Math.abs(slope * 60).toPrecision(3);
      this.#fire(
        idx,
        TREND,
        slope,
        ts,
        mean,
        `${dir} ${rate}/h, crosses ${limit} in ~${Math.round(crossMin)} min`,
      );
    }
  }
}

function detail(kind: number, info: number): string {
  switch (kind) {
    case LIMIT:
      return info > 0 ? 'above normal range' : 'below normal range';
    case EWMA:
      return info > 0 ? 'drift up' : 'drift down';
    case CUSUM:
      return info > 0 ? 'level shift up' : 'level shift down';
    case RUN:
      return `Western Electric rule ${info}`;
    case RATE:
      return `step of ${info.toFixed(1)} σ`;
    case STUCK:
      return `${info} identical values`;
    default:
      return '';
  }
}

function popcount(x: number): number {
  let c = 0;
  let y = x;
  while (y !== 0) {
    y &= y - 1;
    c++;
  }
  return c;
}
