import type { Sample } from '@gemba/core';
import { median, robustSd } from '../stats/robust.ts';
import { stepAt, stepIntegral, stepMean } from '../stats/step-series.ts';

/** A zone's fitted dynamics. */
export interface ZoneFit {
  id: string;
  /** The last setpoint in the window, °C. */
  setpointC: number;
  /** Time constant of the first-order response, s, with its standard error; absent when no transient was seen. */
  timeConstantS?: { value: number; se: number; points: number };
  /** Standard deviation of the temperature around the setpoint in steady periods, °C. */
  steadySdC: number;
  notes: string[];
}

/** The fitted scrap curve p(d) = 1 / (1 + exp(−(a + b·x))), x = d² or |d|, d = cure temperature − target. */
export interface ScrapCurveFit {
  a: { value: number; se: number };
  b: { value: number; se: number };
  parts: number;
  scrap: number;
  /** The curve's argument: the squared deviation d² or its magnitude |d|. */
  form: 'squared' | 'absolute';
  /** Scrap the fitted curve expects over the same parts. */
  expectedScrap: number;
  /** The station where cure scrap is found (the oven or an inspection station downstream). */
  inspectAt: string;
  /** Parts in transit between the quality zone and `inspectAt`: `lagS` in median oven exit intervals. */
  transitOffset: number;
  /** Time from the part's exposure in the quality zone to its inspection, s (searched by likelihood). */
  lagS: number;
  /** Likelihood-ratio statistic of the curve against a flat scrap rate (χ², 1 df). */
  likelihoodRatio: number;
  targetC: number;
  /**
   * Spread of the cure temperature around the setpoint at the parts, °C (the model's cure noise):
   * 1.4826 × the median absolute deviation, robust to rare disturbances.
   */
  cureSdC: number;
  /**
   * The span before each oven exit over which the quality zone's temperature is averaged to
   * give the part's cure temperature, s (0: the reading at the exit). Chosen by likelihood among
   * multiples of the oven's median exit interval: averaging over the part's pass removes most
   * of the sensor noise, which would otherwise flatten the fitted slope (regression dilution).
   */
  averagingS: number;
  /** The largest |d| among the parts the curve was fitted to, °C. */
  maxDeviationC: number;
  /** Observed vs fitted scrap rates per band of |d|. */
  bands: { fromC: number; toC: number; parts: number; observed: number; fitted: number }[];
}

/**
 * How far off its setpoint the quality zone must be to count as an excursion (a disturbance
 * episode; the parts a scrap curve learns from), given its everyday spread σ: max(1.5 °C, 6 σ).
 */
function excursionThresholdC(sd: number): number {
  return Math.max(1.5, 6 * sd);
}

/** Parts cured beyond the everyday spread that a scrap curve needs (see `fitScrapCurve`). */
const MIN_EXCURSION_PARTS = 10;

/** Median interval between consecutive completions, ms (0 with fewer than two). */
function medianGap(comps: readonly { t: number }[]): number {
  const gaps: number[] = [];
  for (let i = 1; i < comps.length; i++) {
    const g = (comps[i] as { t: number }).t - (comps[i - 1] as { t: number }).t;
    if (g > 0) gaps.push(g);
  }
  return gaps.length > 0 ? median(gaps) : 0;
}

function numeric(samples: readonly Sample[]): { t: number; v: number }[] {
  const out: { t: number; v: number }[] = [];
  for (const s of samples)
    if (s.quality === 'good' && typeof s.value === 'number') out.push({ t: s.ts, v: s.value });
  return out;
}

/**
 * Fits a zone as a first-order system toward its setpoint: over consecutive temperature samples
 * Tₖ → Tₖ₊₁ (Δt apart), Tₖ₊₁ − Tₖ = (1 − e^(−Δt/τ))·(SP − Tₖ). Least squares on the points with
 * |SP − Tₖ| > 1.5 °C (transients; near the setpoint measurement noise dominates), then τ with
 * its standard error by the delta method. Heater limits cannot be seen unless the heaters
 * saturate, so they are kept from the defaults.
 */
export function fitOvenZone(
  id: string,
  temperatures: readonly Sample[],
  setpoints: readonly Sample[],
): ZoneFit {
  const T = numeric(temperatures);
  const SP = numeric(setpoints);
  const notes: string[] = [];
  const lastSp = SP.length > 0 ? (SP[SP.length - 1] as { v: number }).v : Number.NaN;
  // Steady periods: |T − SP| < 2 °C.
  const steady: number[] = [];
  let sxx = 0;
  let sxy = 0;
  let n = 0;
  let dtSum = 0;
  const xs: number[] = [];
  const ys: number[] = [];
  for (let k = 0; k + 1 < T.length; k++) {
    const a = T[k] as { t: number; v: number };
    const b = T[k + 1] as { t: number; v: number };
    const sp = stepAt(SP, a.t);
    if (sp === undefined) continue;
    const e = sp - a.v;
    if (Math.abs(e) < 2) steady.push(a.v - sp);
    if (Math.abs(e) <= 1.5 || b.t <= a.t) continue;
    xs.push(e);
    ys.push(b.v - a.v);
    sxx += e * e;
    sxy += e * (b.v - a.v);
    dtSum += (b.t - a.t) / 1000;
    n++;
  }
  const sd = steady.length > 1 ? Math.sqrt(steady.reduce((s, d) => s + d * d, 0) / steady.length) : 0;
  const fit: ZoneFit = { id, setpointC: lastSp, steadySdC: sd, notes };
  if (n < 5) {
    notes.push('no setpoint transient in the window: time constant not identifiable, default kept');
    return fit;
  }
  const alpha = sxy / sxx;
  const dt = dtSum / n;
  let rss = 0;
  for (let i = 0; i < n; i++) rss += ((ys[i] as number) - alpha * (xs[i] as number)) ** 2;
  const seAlpha = Math.sqrt(rss / Math.max(1, n - 1) / sxx);
  if (!(alpha > 0 && alpha < 1)) {
    notes.push(`transient fit gave α = ${alpha.toFixed(4)}: time constant not identifiable, default kept`);
    return fit;
  }
  const tau = -dt / Math.log(1 - alpha);
  // dτ/dα = −Δt / ((1 − α) ln²(1 − α))
  const dTau = dt / ((1 - alpha) * Math.log(1 - alpha) ** 2);
  fit.timeConstantS = { value: tau, se: Math.abs(dTau) * seAlpha, points: n };
  return fit;
}

/** A station's counters, for finding where cure scrap is detected. */
export interface StationCounters {
  id: string;
  total: readonly Sample[];
  scrap: readonly Sample[];
}

/** Completions of a station in order, with whether each was scrap (single-step increments only). */
function completionsWithScrap(c: StationCounters): { t: number; scrap: boolean }[] {
  const tot = numeric(c.total);
  const scr = numeric(c.scrap);
  const scrapAt = new Map<number, number>();
  for (let i = 1; i < scr.length; i++) {
    const d = (scr[i] as { v: number }).v - (scr[i - 1] as { v: number }).v;
    if (d > 0) scrapAt.set((scr[i] as { t: number }).t, d);
  }
  const out: { t: number; scrap: boolean }[] = [];
  for (let i = 1; i < tot.length; i++) {
    const cur = tot[i] as { t: number; v: number };
    const step = cur.v - (tot[i - 1] as { v: number }).v;
    for (let k = 0; k < step; k++) out.push({ t: cur.t, scrap: k < (scrapAt.get(cur.t) ?? 0) });
  }
  return out;
}

interface Logistic {
  a: number;
  b: number;
  seA: number;
  seB: number;
  ll: number;
}

/** Log-likelihood of y ~ σ(a + b·x), computed stably. */
function logisticLogLik(xs: readonly number[], ys: readonly number[], a: number, b: number): number {
  let ll = 0;
  for (let i = 0; i < xs.length; i++) {
    const e = a + b * (xs[i] as number);
    // ln σ(e) = −ln(1 + e^(−e)), ln(1 − σ(e)) = −ln(1 + e^(e)), both without overflow.
    const z = (ys[i] as number) === 1 ? -e : e;
    ll -= z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
  }
  return ll;
}

/**
 * Logistic regression y ~ σ(a + b·x) by Newton–Raphson with a tiny ridge and step halving
 * (a full Newton step can overshoot when the data nearly separate).
 */
function logisticFit(xs: readonly number[], ys: readonly number[]): Logistic {
  const n = xs.length;
  const nScrap = ys.reduce((acc, v) => acc + v, 0);
  let a = Math.log((nScrap + 0.5) / (n - nScrap + 0.5));
  let b = 0;
  let ll = logisticLogLik(xs, ys, a, b);
  let h00 = 0;
  let h01 = 0;
  let h11 = 0;
  const hessian = (): { g0: number; g1: number } => {
    let g0 = -1e-6 * a;
    let g1 = -1e-6 * b;
    h00 = 1e-6;
    h01 = 0;
    h11 = 1e-6;
    for (let i = 0; i < n; i++) {
      const x = xs[i] as number;
      const p = 1 / (1 + Math.exp(-(a + b * x)));
      const r = (ys[i] as number) - p;
      g0 += r;
      g1 += r * x;
      const w = p * (1 - p);
      h00 += w;
      h01 += w * x;
      h11 += w * x * x;
    }
    return { g0, g1 };
  };
  for (let it = 0; it < 100; it++) {
    const { g0, g1 } = hessian();
    const det = h00 * h11 - h01 * h01;
    let da = (h11 * g0 - h01 * g1) / det;
    let db = (h00 * g1 - h01 * g0) / det;
    if (!Number.isFinite(da) || !Number.isFinite(db)) break;
    let next = logisticLogLik(xs, ys, a + da, b + db);
    for (let k = 0; k < 30 && !(next >= ll - 1e-12); k++) {
      da /= 2;
      db /= 2;
      next = logisticLogLik(xs, ys, a + da, b + db);
    }
    if (!(next >= ll - 1e-12)) break;
    a += da;
    b += db;
    ll = next;
    if (Math.abs(da) < 1e-9 && Math.abs(db) < 1e-9) break;
  }
  hessian();
  const det = h00 * h11 - h01 * h01;
  return { a, b, seA: Math.sqrt(h11 / det), seB: Math.sqrt(h00 / det), ll };
}

function flatLogLik(ys: readonly number[]): number {
  const n = ys.length;
  const k = ys.reduce((acc, v) => acc + v, 0);
  if (k === 0 || k === n) return 0;
  const p = k / n;
  return k * Math.log(p) + (n - k) * Math.log(1 - p);
}

/**
 * Fits the oven's scrap curve p(d) = σ(a + b·x), x = d² or |d| (both tried), by logistic regression, where d is the
 * quality zone's deviation from target when a part left the oven, and finds **where** that
 * scrap is detected: at the oven itself or at a station downstream (an inspection station).
 * Downstream, the k-th completion of a station is matched with the (k − w)-th good oven exit
 * (first in, first out; w, the parts in transit at the window's start, is searched in 0…80;
 * scrap at stations in between shifts the match by a few parts, which the slowly varying
 * temperature tolerates). The candidate with the largest likelihood gain over a flat rate
 * wins. Returns undefined when no candidate has ≥ 50 parts, ≥ 5 scrapped, a positive slope
 * and a likelihood-ratio statistic above 10 (the oven then keeps a flat scrap rate).
 */
export function fitScrapCurve(
  oven: StationCounters,
  downstream: readonly StationCounters[],
  temps: readonly Sample[],
  setpoints: readonly Sample[],
  targetC: number,
): ScrapCurveFit | undefined {
  const T = numeric(temps);
  const SP = numeric(setpoints);
  const exits = completionsWithScrap(oven);
  const cum = stepIntegral(T);
  type Cand = {
    station: string;
    lagMs: number;
    spanMs: number;
    form: 'squared' | 'absolute';
    xs: number[];
    ys: number[];
    fit: Logistic;
    gain: number;
  };
  let best: Cand | undefined;
  // `ds` are signed deviations; both curve forms are tried.
  const consider = (
    station: string,
    lagMs: number,
    spanMs: number,
    ds: readonly number[],
    ys: readonly number[],
  ): void => {
    const nScrap = ys.reduce((acc, v) => acc + v, 0);
    if (ds.length < 50 || nScrap < 5) return;
    for (const form of ['squared', 'absolute'] as const) {
      const xs = ds.map((d) => (form === 'squared' ? d * d : Math.abs(d)));
      const fit = logisticFit(xs, ys);
      if (!(fit.b > 0) || !Number.isFinite(fit.a) || !Number.isFinite(fit.ll)) continue;
      const gain = fit.ll - flatLogLik(ys);
      if (best === undefined || gain > best.gain)
        best = { station, lagMs, spanMs, form, xs, ys: ys.slice(), fit, gain };
    }
  };
  // Each candidate inspecting station's completions are matched by time: the part finished at
  // t was cured at the quality zone's temperature averaged over [t − lag − span, t − lag]. The
  // lag (transit from the zone to the inspection, 0…15 min) and the span (the part's exposure)
  // are searched by likelihood, which also absorbs buffers and scrap in between (a count-based
  // first-in-first-out match drifts by every part scrapped or held on the way).
  const spans = [0, 30_000, 60_000, 120_000, 300_000];
  const stationsToTry = [oven, ...downstream];
  for (const c of stationsToTry) {
    const comps = c === oven ? exits : completionsWithScrap(c);
    const ys = comps.map((x) => (x.scrap ? 1 : 0));
    const maxLag = c === oven ? 0 : 15 * 60_000;
    for (let lagMs = 0; lagMs <= maxLag; lagMs += 30_000) {
      for (const spanMs of spans) {
        const ds: number[] = [];
        const yy: number[] = [];
        for (let k = 0; k < comps.length; k++) {
          const t = (comps[k] as { t: number }).t - lagMs;
          const temp = stepMean(T, cum, t - spanMs, t);
          if (temp === undefined) continue;
          ds.push(temp - targetC);
          yy.push(ys[k] as number);
        }
        consider(c.id, lagMs, spanMs, ds, yy);
      }
    }
  }
  // The cure spread around the setpoint that the model draws per part: a robust estimate
  // (1.4826 · median absolute deviation), so that a rare disturbance (a heater fault) does not
  // become everyday noise; the disturbance's scrap is in the fit all the same.
  const spreadOf = (spanMs: number): number => {
    const devs: number[] = [];
    for (const e of exits) {
      const temp = stepMean(T, cum, e.t - spanMs, e.t);
      // Without a setpoint sample yet, the target stands in for it.
      const sp = stepAt(SP, e.t) ?? targetC;
      if (temp !== undefined) devs.push(temp - sp);
    }
    if (devs.length === 0) return 0;
    return robustSd(devs);
  };
  const b = best as Cand | undefined;
  if (b === undefined || 2 * b.gain < 10) return undefined;
  const { a, b: slope } = b.fit;
  const devOf = (x: number): number => (b.form === 'squared' ? Math.sqrt(x) : x);
  const maxD = devOf(Math.max(...b.xs));
  // A curve needs an excursion to learn from: parts cured beyond the everyday spread (as a
  // disturbance episode is found: max(1.5 °C, 6 robust sd)). Within the spread alone, the search
  // over stations, lags and spans finds a "curve" in the noise now and then (a likelihood ratio of
  // 11 with a slope of 4.8/°C from ±0.6 °C, where the true slope is 0.35/°C: a −5 °C what-if then
  // predicted 97 % scrap).
  const cureSdC = spreadOf(b.spanMs);
  const excursionC = excursionThresholdC(cureSdC);
  if (b.xs.filter((x) => devOf(x) > excursionC).length < MIN_EXCURSION_PARTS) return undefined;
  const edges = [0, 1, 2, 3, 5, 8, Math.max(8.0001, maxD + 1e-9)];
  const bands: ScrapCurveFit['bands'] = [];
  for (let k = 0; k + 1 < edges.length; k++) {
    const lo = edges[k] as number;
    const hi = edges[k + 1] as number;
    let parts = 0;
    let obs = 0;
    let fitted = 0;
    for (let i = 0; i < b.xs.length; i++) {
      const d = devOf(b.xs[i] as number);
      if (d < lo || d >= hi) continue;
      parts++;
      obs += b.ys[i] as number;
      fitted += 1 / (1 + Math.exp(-(a + slope * (b.xs[i] as number))));
    }
    if (parts > 0) bands.push({ fromC: lo, toC: hi, parts, observed: obs / parts, fitted: fitted / parts });
  }
  let expected = 0;
  for (const x of b.xs) expected += 1 / (1 + Math.exp(-(a + slope * x)));
  return {
    a: { value: a, se: b.fit.seA },
    b: { value: slope, se: b.fit.seB },
    parts: b.xs.length,
    scrap: b.ys.reduce((acc, v) => acc + v, 0),
    form: b.form,
    expectedScrap: expected,
    inspectAt: b.station,
    transitOffset: Math.round(b.lagMs / Math.max(1, medianGap(exits))),
    likelihoodRatio: 2 * b.gain,
    targetC,
    cureSdC,
    averagingS: b.spanMs / 1000,
    lagS: b.lagMs / 1000,
    maxDeviationC: maxD,
    bands,
  };
}

/** Disturbance episodes of a zone found in its temperature history (see {@link findDisturbances}). */
export interface DisturbanceFit {
  /** Resolution of the profiles, seconds. */
  stepS: number;
  /** Each episode's deviation from the setpoint, °C, one value per `stepS` from its start. */
  profiles: number[][];
  /** When each episode started, ms since epoch (parallel to `profiles`). */
  startsMs: number[];
  /** Episodes per second of the history searched. */
  ratePerS: number;
  /** The history searched, hours. */
  hours: number;
  /** The deviation that starts an episode, °C. */
  thresholdC: number;
}

const DIST_STEP_MS = 30_000;
/** After a setpoint change the zone's own response is not a disturbance (the zone model has it). */
const DIST_SETTLE_MS = 20 * 60_000;

/**
 * Finds disturbance episodes of a zone (e.g. a heater losing power): stretches where its
 * 30-s mean temperature is off the setpoint by more than max(1.5 °C, 6 robust sd of the
 * deviation) — outside the first 20 min after a setpoint change, which the zone model
 * explains — extended to where the deviation falls below a third of that. Returns each
 * episode's deviation profile and the episodes' rate over the history, for the simulation to
 * replay them (validation) or draw them at random (prediction).
 */
export function findDisturbances(
  temps: readonly Sample[],
  setpoints: readonly Sample[],
  range: { fromMs: number; toMs: number },
): DisturbanceFit | undefined {
  const T = numeric(temps);
  const SP = numeric(setpoints);
  if (T.length < 10) return undefined;
  const changes: number[] = [];
  for (let i = 1; i < SP.length; i++)
    if ((SP[i] as { v: number }).v !== (SP[i - 1] as { v: number }).v)
      changes.push((SP[i] as { t: number }).t);
  const n = Math.ceil((range.toMs - range.fromMs) / DIST_STEP_MS);
  const sum = new Float64Array(n);
  const cnt = new Uint32Array(n);
  for (const p of T) {
    const k = Math.floor((p.t - range.fromMs) / DIST_STEP_MS);
    if (k < 0 || k >= n) continue;
    const sp = stepAt(SP, p.t);
    if (sp === undefined) continue;
    sum[k] = (sum[k] as number) + p.v - sp;
    cnt[k] = (cnt[k] as number) + 1;
  }
  const dev: number[] = [];
  const ok: boolean[] = [];
  for (let k = 0; k < n; k++) {
    const t = range.fromMs + k * DIST_STEP_MS;
    const settling = changes.some((c) => t + DIST_STEP_MS > c && t < c + DIST_SETTLE_MS);
    ok.push((cnt[k] as number) > 0 && !settling);
    dev.push((cnt[k] as number) > 0 ? (sum[k] as number) / (cnt[k] as number) : 0);
  }
  const seen = dev.filter((_, k) => ok[k]);
  if (seen.length < 10) return undefined;
  const sd = robustSd(seen);
  const threshold = excursionThresholdC(sd);
  const profiles: number[][] = [];
  const startsMs: number[] = [];
  let k = 0;
  while (k < n) {
    if (!(ok[k] && Math.abs(dev[k] as number) > threshold)) {
      k++;
      continue;
    }
    let a = k;
    while (a > 0 && ok[a - 1] && Math.abs(dev[a - 1] as number) > threshold / 3) a--;
    let b = k;
    while (b + 1 < n && ok[b + 1] && Math.abs(dev[b + 1] as number) > threshold / 3) b++;
    profiles.push(dev.slice(a, b + 1));
    startsMs.push(range.fromMs + a * DIST_STEP_MS);
    k = b + 1;
  }
  const hours = (seen.length * DIST_STEP_MS) / 3_600_000;
  return {
    stepS: DIST_STEP_MS / 1000,
    profiles,
    startsMs,
    ratePerS: profiles.length / (hours * 3600),
    hours,
    thresholdC: threshold,
  };
}
