import {
  GembaError,
  type Historian,
  type HistorianEvent,
  type MachineState,
  type Model,
  type Sample,
  type SignalDef,
  type StateEventData,
  type TimeRange,
} from '@gemba/core';
import {
  type ExperimentOptions,
  type ExperimentResult,
  runReplications,
} from '../experiment/replications.ts';
import { buildLineModel, type LineParameters } from '../line/build-line-model.ts';
import type { LineConfig, PlannedStop, StationConfig } from '../line/line-config.ts';
import { SIM_STATES, type SimState } from '../line/line-sim.ts';
import type { DistributionSpec } from '../random/distributions.ts';
import type { Estimate } from '../stats/confidence.ts';
import { stepIntegral, stepMean } from '../stats/step-series.ts';
import { fitFailureRatePrior } from './failure-prior.ts';
import { type FitFamily, type FitResult, fitDistribution, type Observations } from './fit-distribution.ts';
import {
  type DisturbanceFit,
  findDisturbances,
  fitOvenZone,
  fitScrapCurve,
  type ScrapCurveFit,
  type ZoneFit,
} from './oven-fit.ts';
import { fitWear, type StateSpan, type WearFit } from './wear-fit.ts';

/** What to calibrate. */
export interface CalibrateOptions {
  /** Line path (default: the model's first line). */
  line?: string;
  product?: string;
  /**
   * Validate by simulating the calibrated model over a window of the same length (default
   * true: 10 replications, workers per `ExperimentOptions`).
   */
  validate?: boolean | ExperimentOptions;
  /** Families tried for cycle times (default normal, lognormal, gamma, Weibull). */
  cycleFamilies?: FitFamily[];
  /** How far before the window to look for state events that overlap its start (default 1 day). */
  lookbackMs?: number;
  /**
   * Start of the history the oven's scrap curve is fitted on (epoch ms; default the window's
   * start). The curve is a property of the product and process, stable over time, but only
   * identifiable from temperature deviations, which a short window at a steady setpoint may
   * not hold: a longer history (e.g. with past heater faults or setpoint changes) supplies them.
   */
  scrapCurveFromMs?: number;
  /**
   * Start of the history wear failures are learnt from (epoch ms; default the window's start):
   * a station's condition signal (one with a high-high limit, e.g. bearing vibration) is fitted
   * as wear, its growth from the window, and the level at which the part failed and the
   * renewal's repair time from the failures after which the level fell back — rare events,
   * which a short window may not hold.
   */
  failureHistoryFromMs?: number;
}

/** One station's calibration. */
export interface StationCalibration {
  id: string;
  /** Parts counted in the window. */
  parts: number;
  cycleTime?: FitResult;
  failures?: { count: number; between: FitResult; repair: FitResult };
  /** The wear failure mode from a condition signal, with its renewals' repair times. */
  wear?: WearFit & { repair?: FitResult };
  microStops?: { count: number; probability: Estimate; duration?: FitResult };
  scrap: { parts: number; scrap: number; probability: number; se: number };
  notes: string[];
}

/** A validation row: the observed value and the simulated estimate over the same window. */
export interface ValidationRow {
  metric: string;
  observed: number;
  simulated: Estimate;
  /** Relative error of the simulated mean, (sim − obs) / obs. */
  relativeError: number;
}

/** The calibration report: parameters with uncertainty, goodness of fit and validation. */
export interface CalibrationReport {
  line: string;
  window: TimeRange;
  /** Parameters to pass to `buildLineModel`. */
  parameters: LineParameters;
  /** The calibrated line itself. */
  config: LineConfig;
  stations: StationCalibration[];
  oven?: {
    zones: ZoneFit[];
    scrapCurve?: ScrapCurveFit;
    cureNoiseSdC: number;
    /** The quality zone's disturbance episodes over the curve's history. */
    disturbances?: DisturbanceFit;
    /** The zone setpoints seen in the window (replayed by the validation). */
    setpointHistory: {
      initial: Record<string, number>;
      changes: { atS: number; zone: string; setpointC: number }[];
    };
  };
  observed: {
    throughputPerHour: number;
    stateShares: Record<string, Record<SimState, number>>;
    bufferMeanLevel: Record<string, number>;
  };
  validation?: { rows: ValidationRow[]; experiment: Omit<ExperimentResult, 'runs'> };
  warnings: string[];
}

interface Interval {
  state: MachineState;
  start: number;
  end: number;
  /** Cut by the window's start / end. */
  cutStart: boolean;
  cutEnd: boolean;
}

/** The engine's machine states mapped onto the simulation's (idle, maintenance, stopped, offline → stopped). */
function simStateOf(s: MachineState): SimState {
  switch (s) {
    case 'running':
    case 'starved':
    case 'blocked':
    case 'micro-stop':
    case 'down':
      return s;
    default:
      return 'stopped';
  }
}

function intervalsOf(events: readonly HistorianEvent[], window: TimeRange): Interval[] {
  const out: Interval[] = [];
  const sorted = events
    .map((e) => e.data as unknown as StateEventData)
    .filter((d) => typeof d.startMs === 'number')
    .sort((a, b) => a.startMs - b.startMs);
  for (let i = 0; i < sorted.length; i++) {
    const d = sorted[i] as StateEventData;
    const endRaw = d.endMs ?? sorted[i + 1]?.startMs ?? window.toMs;
    if (endRaw <= window.fromMs || d.startMs >= window.toMs) continue;
    out.push({
      state: d.state,
      start: Math.max(d.startMs, window.fromMs),
      end: Math.min(endRaw, window.toMs),
      cutStart: d.startMs < window.fromMs,
      cutEnd: endRaw > window.toMs || d.endMs === undefined,
    });
  }
  return out;
}

/** Times (ms) at which a counter went up, one entry per unit of increase. */
function completions(samples: readonly Sample[]): { t: number; step: number }[] {
  const out: { t: number; step: number }[] = [];
  let prev: number | undefined;
  for (const s of samples) {
    if (s.quality !== 'good' || typeof s.value !== 'number') continue;
    if (prev !== undefined && s.value > prev) out.push({ t: s.ts, step: s.value - prev });
    // A counter reset (value below the previous) starts a new base.
    prev = s.value;
  }
  return out;
}

function counterIncrease(samples: readonly Sample[]): number {
  return completions(samples).reduce((a, c) => a + c.step, 0);
}

/**
 * The median of the sub-second non-running gaps between two running spans, seconds: the
 * hand-over from one part to the next — 0 with fewer than 10 such gaps or when their lengths
 * spread (interquartile range over 20 % of the median).
 */
function handoverS(iv: readonly Interval[]): number {
  const gaps: number[] = [];
  for (let i = 1; i + 1 < iv.length; i++) {
    const x = iv[i] as Interval;
    if (x.state === 'running' || x.end - x.start >= 1000) continue;
    if ((iv[i - 1] as Interval).state === 'running' && (iv[i + 1] as Interval).state === 'running')
      gaps.push(x.end - x.start);
  }
  if (gaps.length < 10) return 0;
  gaps.sort((p, q) => p - q);
  const q = (f: number): number => gaps[Math.floor(f * (gaps.length - 1))] as number;
  // A hand-over takes the same time every cycle; sub-second gaps of all lengths are waits for
  // a neighbour, not a hand-over.
  if (q(0.75) - q(0.25) > 0.2 * q(0.5)) return 0;
  return q(0.5) / 1000;
}

/** Running milliseconds in (a, b] from intervals sorted by start (cursor advanced by the caller). */
function runningBetween(iv: readonly Interval[], a: number, b: number): number {
  let sum = 0;
  for (const x of iv) {
    if (x.end <= a) continue;
    if (x.start >= b) break;
    if (x.state === 'running') sum += Math.min(x.end, b) - Math.max(x.start, a);
  }
  return sum;
}

/**
 * The time-weighted mean over `w` of a signal held from each sample to the next (samples in
 * time order, possibly starting before `w`); undefined without a value in `w`.
 */
export function timeWeightedMean(samples: readonly Sample[], w: TimeRange): number | undefined {
  const series: { t: number; v: number }[] = [];
  for (const s of samples)
    if (typeof s.value === 'number' && Number.isFinite(s.value) && s.quality !== 'bad')
      series.push({ t: s.ts, v: s.value });
  const from = Math.max(w.fromMs, series[0]?.t ?? Number.POSITIVE_INFINITY);
  return w.toMs > from ? stepMean(series, stepIntegral(series), from, w.toMs) : undefined;
}

async function rawAll(h: Historian, signal: string | undefined, w: TimeRange): Promise<Sample[]> {
  if (signal === undefined) return [];
  return await h.queryRaw(signal, w);
}

/**
 * Calibrates the line's simulation model from the historian over `window`: per station the
 * cycle-time distribution (from the running time between counter increments), time between
 * failures (running time between `down` starts) and repair times (durations of `down`), with
 * intervals cut by the window's edges entering as right-censored; micro-stop rate and
 * durations; scrap probability; wear failures from a condition signal (see `fitWear`); for the
 * oven the zones' time constants, the scrap-versus-cure-temperature-deviation curve and the
 * quality zone's disturbance episodes. Each distribution is fitted by maximum
 * likelihood over several families and chosen by AICc. Then (unless `validate: false`) the
 * calibrated model is simulated over a window of the same length and compared with what was
 * observed (throughput, state shares, buffer levels).
 *
 * Needs from the historian: state events (kind `state`, source = station path, data
 * {@link StateEventData}) and raw counter samples (`part_counter`, `scrap_counter` roles).
 *
 * @example
 * const report = await calibrate(historian, model, { fromMs, toMs });
 * const cfg = buildLineModel(model, report.parameters);
 * @throws GembaError GEMBA_SIM_CALIBRATION when the window holds no state events or counts
 */
export async function calibrate(
  historian: Historian,
  model: Model,
  requested: TimeRange,
  options: CalibrateOptions = {},
): Promise<CalibrationReport> {
  const lineOf = buildLineModel(model, {}, { ...pick(options), startMs: requested.fromMs }).line;
  const line = model.line(lineOf);
  if (line === undefined) throw new GembaError('GEMBA_SIM_MODEL', `no line ${lineOf}`);
  const warnings: string[] = [];
  const lookback = options.lookbackMs ?? 86_400_000;
  const events = await historian.queryEvents({
    fromMs: requested.fromMs - lookback,
    toMs: requested.toMs,
    kind: 'state',
    sourcePrefix: line.path,
  });
  // The history may begin inside the window (recording started after its start, e.g. "the last
  // 8 hours" of a plant connected 4 hours ago): the hours before are unknown, not idle, and are
  // left out; the report's window says where calibration really began.
  let firstMs = Number.POSITIVE_INFINITY;
  for (const e of events) {
    const d = e.data as unknown as StateEventData;
    if (typeof d.startMs === 'number' && d.startMs < firstMs) firstMs = d.startMs;
  }
  const window: TimeRange =
    firstMs > requested.fromMs && firstMs < requested.toMs
      ? { fromMs: firstMs, toMs: requested.toMs }
      : requested;
  if (events.length === 0 || firstMs >= requested.toMs) {
    throw new GembaError(
      'GEMBA_SIM_CALIBRATION',
      `no state events for ${line.path} in the window ${iso(requested.fromMs)}–${iso(requested.toMs)}`,
    );
  }
  if (window.fromMs > requested.fromMs + 60_000)
    warnings.push(
      `the history begins at ${iso(window.fromMs)}, ${((window.fromMs - requested.fromMs) / 3_600_000).toFixed(1)} h into the window: calibrated from there (${((window.toMs - window.fromMs) / 3_600_000).toFixed(1)} h)`,
    );
  const base = buildLineModel(model, {}, { ...pick(options), startMs: window.fromMs });
  const hours = (window.toMs - window.fromMs) / 3_600_000;
  const params: LineParameters = { stations: {} };
  const allIntervals: Interval[][] = [];
  const stations: StationCalibration[] = [];
  const shares: Record<string, Record<SimState, number>> = {};
  let lastGood = 0;
  // Per station: running seconds, failures and summed repair seconds (for pooling below).
  const exposure: { id: string; runS: number; failures: number; repairS: number }[] = [];
  for (const st of line.stations) {
    const notes: string[] = [];
    const iv = intervalsOf(
      events.filter((e) => e.source === st.path),
      window,
    );
    allIntervals.push(iv);
    const share = Object.fromEntries(SIM_STATES.map((s) => [s, 0])) as Record<SimState, number>;
    let covered = 0;
    for (const x of iv) {
      share[simStateOf(x.state)] += x.end - x.start;
      covered += x.end - x.start;
    }
    for (const s of SIM_STATES) share[s] = covered > 0 ? share[s] / covered : 0;
    shares[st.id] = share;

    const total = await rawAll(historian, model.signalByRole(st.path, 'part_counter')?.path, window);
    const scrapS = await rawAll(historian, model.signalByRole(st.path, 'scrap_counter')?.path, window);
    const goodS = await rawAll(historian, model.signalByRole(st.path, 'good_counter')?.path, window);
    const comps = completions(total);
    const parts = comps.reduce((a, c) => a + c.step, 0);
    const scrap = counterIncrease(scrapS);
    if (st.order === line.stations.length - 1)
      lastGood = goodS.length > 0 ? counterIncrease(goodS) : parts - scrap;
    const sc: StationConfig = { ...(base.stations[st.order] as StationConfig) };
    const cal: StationCalibration = {
      id: st.id,
      parts,
      scrap: {
        parts,
        scrap,
        probability: parts > 0 ? scrap / parts : 0,
        se: parts > 0 ? Math.sqrt(((scrap / parts) * (1 - scrap / parts)) / parts) : Number.NaN,
      },
      notes,
    };
    sc.scrapProbability = cal.scrap.probability;

    // Cycle times: running time between consecutive single-step completions, plus the
    // hand-over: a station that passes a part on and takes the next reports a blink of another
    // state in between (the median of the sub-second gaps between two running spans), which
    // belongs to its cycle — left out, the model's station would be faster than the real one.
    const handover = handoverS(iv);
    if (handover > 0)
      notes.push(
        `hand-over ${(handover * 1000).toFixed(0)} ms per cycle (sub-second gaps between running spans)`,
      );
    const cycles: number[] = [];
    for (let i = 1; i < comps.length; i++) {
      const a = comps[i - 1] as { t: number; step: number };
      const b = comps[i] as { t: number; step: number };
      if (a.step !== 1 || b.step !== 1) continue;
      const run = runningBetween(iv, a.t, b.t) / 1000;
      if (run > 0) cycles.push(run + handover);
    }
    if (cycles.length >= 10) {
      cal.cycleTime = fitDistribution(
        { exact: cycles, censored: [] },
        options.cycleFamilies ?? ['normal', 'lognormal', 'gamma', 'weibull'],
        `cycle times of ${st.path}`,
      );
      sc.cycleTime = cal.cycleTime.best.spec;
    } else notes.push(`only ${cycles.length} cycle times: kept the ideal cycle time`);

    // Wear: a condition signal of the station with a high-high limit, fitted over the history.
    const wear = await calibrateWear(historian, model, st.path, window, iv, options);
    if (wear !== undefined) {
      cal.wear = wear;
      notes.push(...wear.notes);
    }
    const isWear = (d: Interval): boolean =>
      wear?.failures.some((f) => f.atMs < d.end && f.repairedMs > d.start) ?? false;

    // Failures: repair = down durations; TBF = running time between down starts. A wear
    // failure is not one of them: it ends a stretch of running without a random failure
    // (right-censored), and the random failures' clock runs on after it.
    const allDowns = iv.filter((x) => x.state === 'down');
    const downs = allDowns.filter((d) => !isWear(d));
    exposure.push({
      id: st.id,
      runS: runningBetween(iv, window.fromMs, window.toMs) / 1000,
      failures: downs.length,
      repairS: downs.reduce((a, d) => a + (d.end - d.start) / 1000, 0),
    });
    if (downs.length > 0) {
      // With few failures only the exponential (a constant failure rate) is estimable; by its
      // memorylessness the running time from the window's start to the first failure is then
      // a complete observation. With more, several families are tried and that first stretch
      // is right-censored (the failure before it is unknown).
      const few = downs.length < 5;
      const families: FitFamily[] | undefined = few ? ['exponential'] : undefined;
      const repair: Observations = { exact: [], censored: [] };
      const between: Observations = { exact: [], censored: [] };
      let prevEnd = window.fromMs;
      let prevCut = !few;
      for (const d of allDowns) {
        const worn = isWear(d);
        if (!worn) (d.cutStart || d.cutEnd ? repair.censored : repair.exact).push((d.end - d.start) / 1000);
        if (!d.cutStart) {
          const run = runningBetween(iv, prevEnd, d.start) / 1000;
          (prevCut || worn ? between.censored : between.exact).push(run);
        }
        prevEnd = d.end;
        prevCut = worn ? !few : d.cutEnd;
      }
      if (!prevCut) between.censored.push(runningBetween(iv, prevEnd, window.toMs) / 1000);
      try {
        const b = fitDistribution(between, families, `time between failures of ${st.path}`);
        const r = fitDistribution(repair, families, `repair times of ${st.path}`);
        cal.failures = { count: downs.length, between: b, repair: r };
        sc.failures = { basis: 'operating-time', between: b.best.spec, repair: r.best.spec };
        if (few)
          notes.push(`${downs.length} failure(s) in the window: exponential fits only, wide uncertainty`);
      } catch (err: unknown) {
        notes.push(`failures not fitted: ${err instanceof Error ? err.message : String(err)}`);
      }
    }

    // Micro-stops: rate per cycle and durations.
    const micros = iv.filter((x) => x.state === 'micro-stop');
    if (micros.length > 0 && parts > 0) {
      const p = micros.length / parts;
      cal.microStops = {
        count: micros.length,
        probability: {
          mean: p,
          halfWidth: 1.96 * Math.sqrt((p * (1 - p)) / parts),
          low: 0,
          high: 0,
          sd: Number.NaN,
          n: parts,
        },
      };
      cal.microStops.probability.low = p - cal.microStops.probability.halfWidth;
      cal.microStops.probability.high = p + cal.microStops.probability.halfWidth;
      const dur: Observations = { exact: [], censored: [] };
      for (const m of micros)
        (m.cutStart || m.cutEnd ? dur.censored : dur.exact).push((m.end - m.start) / 1000);
      try {
        cal.microStops.duration = fitDistribution(dur, undefined, `micro-stops of ${st.path}`);
        sc.microStops = { probability: Math.min(1, p), duration: cal.microStops.duration.best.spec };
      } catch (err: unknown) {
        notes.push(`micro-stop durations not fitted: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    const { id: _id, ...rest } = sc;
    (params.stations as Record<string, Partial<Omit<StationConfig, 'id'>>>)[st.id] = rest;
    stations.push(cal);
  }

  // A station that did not fail in the window has a failure-rate MLE of 0 — "never fails",
  // which a few hours cannot show. Its rate is the posterior mean under a gamma prior of the
  // line's failure rates fitted to every station's count and running time (empirical Bayes,
  // Poisson–gamma): alpha / (beta + own running time). When one station fails far more often
  // than the others the prior is wide (small alpha) and the quiet stations get a small rate;
  // when the stations look alike it approaches the pooled rate. Repairs exponential with the
  // line's mean repair time.
  const pooledFailures = exposure.reduce((a, e) => a + e.failures, 0);
  const prior = fitFailureRatePrior(
    exposure.map((e) => e.failures),
    exposure.map((e) => e.runS),
  );
  if (pooledFailures > 0 && prior !== undefined) {
    const meanRepairS = exposure.reduce((a, e) => a + e.repairS, 0) / pooledFailures;
    for (const e of exposure) {
      const sp = (params.stations as Record<string, Partial<Omit<StationConfig, 'id'>>>)[e.id];
      if (e.failures > 0 || sp === undefined || !(e.runS > 0) || !(meanRepairS > 0)) continue;
      const mtbf = (prior.beta + e.runS) / prior.alpha;
      sp.failures = {
        basis: 'operating-time',
        between: { family: 'exponential', mean: mtbf },
        repair: { family: 'exponential', mean: meanRepairS },
      };
      stations
        .find((x) => x.id === e.id)
        ?.notes.push(
          `no failure in ${(e.runS / 3600).toFixed(1)} h running: MTBF ${(mtbf / 3600).toFixed(1)} h from the line's failure-rate prior (gamma, shape ${prior.alpha.toFixed(2)}, ${pooledFailures} failures) and MTTR ${(meanRepairS / 60).toFixed(1)} min pooled`,
        );
    }
  }

  // Wear failure modes: the renewals' repair times when any were seen, else the maintenance
  // plan's duration of the renewal job (the condition signal's `renewal` in the model), else the
  // line's mean repair time.
  const lineRepairs = exposure.reduce((a, e) => a + e.failures, 0);
  const lineMeanRepairS =
    lineRepairs > 0 ? exposure.reduce((a, e) => a + e.repairS, 0) / lineRepairs : Number.NaN;
  for (const cal of stations) {
    const w = cal.wear;
    if (w === undefined) continue;
    const durations = w.failures.map((f) => (f.repairedMs - f.atMs) / 1000);
    const planned = plannedRenewal(model.signal(w.signal)?.def.renewal);
    let repair: DistributionSpec | undefined;
    if (durations.length > 0) {
      w.repair = fitDistribution(
        { exact: durations, censored: [] },
        durations.length < 5 ? ['exponential'] : undefined,
        `wear repairs of ${cal.id}`,
      );
      repair = w.repair.best.spec;
    } else if (planned !== undefined) {
      repair = planned.spec;
      cal.notes.push(`no renewal seen: its repair time taken from the maintenance plan, ${planned.text}`);
    } else if (lineMeanRepairS > 0) {
      repair = { family: 'exponential', mean: lineMeanRepairS };
      cal.notes.push(
        `no renewal seen: its repair time taken as the line's mean repair time ${(lineMeanRepairS / 60).toFixed(1)} min`,
      );
    }
    if (repair === undefined) continue;
    params.wear ??= {};
    params.wear[cal.id] = {
      growthPerS: w.growthPerS.value,
      newLevel: w.newLevel,
      failAt: w.failAt,
      repair,
      levels: w.levels,
      runningShare: w.runningShare,
    };
  }

  // Planned stops: the model's shift breaks count only if the line really stopped in them.
  const breaks = plannedStopCoverage(base.plannedStops, allIntervals, window);
  if (breaks.spanMs > 0 && breaks.runningShare > 0.3) {
    params.plannedStops = [];
    warnings.push(
      `the line kept running through the model's planned stops (${(breaks.runningShare * 100).toFixed(0)} % running during ${(breaks.spanMs / 60_000).toFixed(0)} min of breaks): they are left out of the calibrated model`,
    );
  }

  // Buffers: observed mean levels (capacities come from the model), time-weighted: a level
  // reported by exception sends a sample per change, and the plain mean of the samples of a
  // buffer that fills and empties at once (0, 1, 0, 1, ...) is 0.5 where it held 0 nearly all
  // the time. The level before the window's first sample is the last one before it.
  const bufferMeanLevel: Record<string, number> = {};
  for (const b of line.buffers) {
    const sig = model.signalByRole(b.path, 'buffer_level')?.path;
    if (sig === undefined) continue;
    const mean = timeWeightedMean(
      await rawAll(historian, sig, { fromMs: window.fromMs - lookback, toMs: window.toMs }),
      window,
    );
    if (mean !== undefined) bufferMeanLevel[b.id] = mean;
  }

  // The oven: zone dynamics and the scrap curve.
  let ovenReport: CalibrationReport['oven'];
  if (base.oven !== undefined) {
    const ov = base.oven;
    const ovenPath = line.stations.find((s) => s.id === ov.station)?.path as string;
    const zones: ZoneFit[] = [];
    const zoneParams: NonNullable<NonNullable<LineParameters['oven']>['zones']> = {};
    let qTemps: Sample[] = [];
    let qSps: Sample[] = [];
    const firstSetpoints: Record<string, number> = {};
    const curveWindow: TimeRange = {
      fromMs: Math.min(options.scrapCurveFromMs ?? window.fromMs, window.fromMs),
      toMs: window.toMs,
    };
    const spHistory: { atS: number; zone: string; setpointC: number }[] = [];
    for (const z of ov.zones) {
      const zpath = `${ovenPath}/${z.id}`;
      const tSig = model.signal(`${zpath}/temperature`)?.path;
      const sps = await rawAll(historian, model.signalByRole(zpath, 'setpoint')?.path, window);
      if (z.id === ov.qualityZone) {
        qTemps = await rawAll(historian, tSig, curveWindow);
        qSps = await rawAll(historian, model.signalByRole(zpath, 'setpoint')?.path, curveWindow);
      }
      // One-minute means: sensor noise would bias the transient regression (errors in variables).
      const minute = tSig === undefined ? [] : await historian.queryBuckets([tSig], window, 60_000);
      const temps: Sample[] = minute.map((r) => ({
        signal: r.signal,
        ts: r.bucketMs + 30_000,
        value: r.mean,
        quality: 'good',
      }));
      const fit = fitOvenZone(z.id, temps, sps);
      // The setpoint history, to replay it when validating against the same window.
      let prev: number | undefined;
      for (const sp of sps) {
        if (typeof sp.value !== 'number' || sp.value === prev) continue;
        if (prev === undefined) firstSetpoints[z.id] = sp.value;
        else spHistory.push({ atS: (sp.ts - window.fromMs) / 1000, zone: z.id, setpointC: sp.value });
        prev = sp.value;
      }
      zones.push(fit);
      const zp: { setpointC?: number; timeConstantS?: number } = {};
      if (Number.isFinite(fit.setpointC)) zp.setpointC = fit.setpointC;
      if (fit.timeConstantS !== undefined) zp.timeConstantS = fit.timeConstantS.value;
      zoneParams[z.id] = zp;
    }
    const counters = async (path: string, id: string) => ({
      id,
      total: await rawAll(historian, model.signalByRole(path, 'part_counter')?.path, curveWindow),
      scrap: await rawAll(historian, model.signalByRole(path, 'scrap_counter')?.path, curveWindow),
    });
    const ovenCounters = await counters(ovenPath, ov.station);
    const downstream = [];
    for (const s of line.stations.filter(
      (x) => x.order > (line.stations.find((y) => y.id === ov.station)?.order ?? 0),
    )) {
      downstream.push(await counters(s.path, s.id));
    }
    const curve = fitScrapCurve(ovenCounters, downstream, qTemps, qSps, ov.targetC);
    const cureNoiseSdC = curve?.cureSdC ?? zones.find((z) => z.id === ov.qualityZone)?.steadySdC ?? 0;
    ovenReport = { zones, cureNoiseSdC, setpointHistory: { initial: firstSetpoints, changes: spHistory } };
    params.oven = { zones: zoneParams, cureNoiseSdC };
    // The quality zone's disturbances (a heater losing power for a while): the curve turns their
    // deviations into scrap, so the model draws them at the rate seen over the curve's history.
    const disturbances = findDisturbances(qTemps, qSps, curveWindow);
    if (disturbances !== undefined && disturbances.profiles.length > 0) {
      ovenReport.disturbances = disturbances;
      // One or two episodes give a rate, not a reliable one (exact Poisson 95 % interval).
      const n = disturbances.profiles.length;
      if (n < 3) {
        const h = (curveWindow.toMs - curveWindow.fromMs) / 3_600_000;
        const [lo, hi] = n === 1 ? [0.0253, 5.572] : [0.242, 7.225];
        warnings.push(
          `${ov.qualityZone} disturbances: the rate rests on ${n} episode${n > 1 ? 's' : ''} in ${h.toFixed(1)} h (${(n / h).toFixed(2)}/h, 95 % interval ${(lo / h).toFixed(3)}–${(hi / h).toFixed(2)}/h), and predicted scrap with it; a longer history (--scrap-curve-from) narrows it`,
        );
      }
      params.oven.disturbances = {
        stepS: disturbances.stepS,
        profiles: disturbances.profiles,
        ratePerS: disturbances.ratePerS,
      };
    }
    if (curve !== undefined) {
      ovenReport.scrapCurve = curve;
      params.oven.scrapLogit = {
        a: curve.a.value,
        b: curve.b.value,
        form: curve.form,
        learntWithinC: curve.maxDeviationC,
      };
      params.oven.inspectAt = curve.inspectAt;
      // The inspecting station's own flat rate is what the curve does not explain.
      const insp = (params.stations as Record<string, Partial<Omit<StationConfig, 'id'>>>)[curve.inspectAt];
      // (over the curve's own history, which may be longer than the window)
      if (insp !== undefined && curve.inspectAt !== ov.station && curve.parts > 0) {
        insp.scrapProbability = Math.max(0, (curve.scrap - curve.expectedScrap) / curve.parts);
      }
    } else
      warnings.push(
        'oven scrap curve not fitted (the history holds no temperature excursion of the quality zone to learn it from, or too few scrapped parts with a temperature): flat scrap rate kept, and an oven setpoint what-if cannot change scrap',
      );
  }

  const config = buildLineModel(model, params, { ...pick(options), startMs: window.fromMs });
  const report: CalibrationReport = {
    line: line.path,
    window,
    parameters: params,
    config,
    stations,
    observed: { throughputPerHour: lastGood / hours, stateShares: shares, bufferMeanLevel },
    warnings,
  };
  if (ovenReport !== undefined) report.oven = ovenReport;
  if (options.validate !== false) {
    const exp = typeof options.validate === 'object' ? options.validate : {};
    // Simulate the same clock window: planned stops aligned to its start, a warm-up before it.
    const warmS = 3600;
    const vcfg = buildLineModel(model, params, { ...pick(options), startMs: window.fromMs - warmS * 1000 });
    const hist = ovenReport?.setpointHistory;
    if (vcfg.oven !== undefined && hist !== undefined) {
      for (const z of vcfg.oven.zones) z.setpointC = hist.initial[z.id] ?? z.setpointC;
      vcfg.oven.setpointChanges = hist.changes.map((c) => ({ ...c, atS: c.atS + warmS }));
    }
    // The disturbances seen are replayed where they happened, none drawn at random.
    const dist = ovenReport?.disturbances;
    if (vcfg.oven?.disturbances !== undefined && dist !== undefined) {
      const startMs = window.fromMs - warmS * 1000;
      const at = dist.startsMs
        .map((ms, profile) => ({ atS: (ms - startMs) / 1000, profile }))
        .filter(
          (e) =>
            e.atS < warmS + (window.toMs - window.fromMs) / 1000 &&
            e.atS + (dist.profiles[e.profile]?.length ?? 0) * dist.stepS > 0,
        );
      vcfg.oven.disturbances = { ...vcfg.oven.disturbances, ratePerS: 0, at };
    }
    const res = await runReplications(vcfg, {
      replications: 10,
      ...exp,
      horizonS: warmS + (window.toMs - window.fromMs) / 1000,
      warmupS: warmS,
    });
    const rows: ValidationRow[] = [
      row('throughput (parts/h)', report.observed.throughputPerHour, res.throughputPerHour),
    ];
    for (const s of res.stations) {
      const obs = shares[s.id];
      if (obs === undefined) continue;
      for (const k of ['running', 'starved', 'blocked', 'down'] as const) {
        rows.push(row(`${s.id} ${k} share`, obs[k], s.stateShares[k]));
      }
    }
    for (const b of res.buffers) {
      const obs = bufferMeanLevel[b.id];
      if (obs !== undefined) rows.push(row(`${b.id} mean level`, obs, b.meanLevel));
    }
    const { runs: _runs, ...summary } = res;
    report.validation = { rows, experiment: summary };
  }
  return report;
}

/**
 * The repair-time distribution of a planned renewal job: deterministic for one figure,
 * triangular for a three-point estimate (minutes in the model, seconds here).
 */
function plannedRenewal(r: SignalDef['renewal']): { spec: DistributionSpec; text: string } | undefined {
  if (r === undefined) return undefined;
  const job = r.job === undefined ? 'the renewal' : `'${r.job}'`;
  const d = r.durationMin;
  if (typeof d === 'number')
    return { spec: { family: 'deterministic', value: d * 60 }, text: `${job}: ${d} min` };
  return {
    spec: { family: 'triangular', min: d.min * 60, mode: d.likely * 60, max: d.max * 60 },
    text: `${job}: ${d.min}–${d.max} min, most likely ${d.likely} (mean ${((d.min + d.likely + d.max) / 3).toFixed(0)})`,
  };
}

/**
 * Fits wear on the station's condition signals (its own signals with a high-high limit, e.g.
 * bearing vibration; the first that grows while running) over the history from
 * `failureHistoryFromMs` to the window's end; undefined when none has samples and grows.
 * `windowIntervals` are the station's intervals over the window, used as they are when the
 * history is the window (else the longer history's state events are read).
 */
async function calibrateWear(
  historian: Historian,
  model: Model,
  stationPath: string,
  window: TimeRange,
  windowIntervals: readonly Interval[],
  options: CalibrateOptions,
): Promise<WearFit | undefined> {
  const candidates = model.signals.filter(
    (s) => s.asset === stationPath && s.def.dataType === 'float' && s.def.limits?.hihi !== undefined,
  );
  if (candidates.length === 0) return undefined;
  const history: TimeRange = {
    fromMs: Math.min(options.failureHistoryFromMs ?? window.fromMs, window.fromMs),
    toMs: window.toMs,
  };
  let spans: StateSpan[] | undefined;
  for (const sig of candidates) {
    const samples = await historian.queryRaw(sig.path, history);
    if (samples.length === 0) continue;
    if (spans === undefined) {
      const iv =
        history.fromMs === window.fromMs
          ? windowIntervals
          : intervalsOf(
              (
                await historian.queryEvents({
                  fromMs: history.fromMs - (options.lookbackMs ?? 86_400_000),
                  toMs: history.toMs,
                  kind: 'state',
                  sourcePrefix: stationPath,
                })
              ).filter((e) => e.source === stationPath),
              history,
            );
      spans = iv.map((x) => ({ state: x.state, start: x.start, end: x.end }));
    }
    const fit = fitWear(sig.path, samples, spans, window.fromMs, window.toMs, sig.def.limits?.hihi);
    if (fit !== undefined) return fit;
  }
  return undefined;
}

/** Share of station time spent running inside the planned stops' occurrences in the window. */
function plannedStopCoverage(
  stops: readonly PlannedStop[],
  stations: readonly Interval[][],
  window: TimeRange,
): { spanMs: number; runningShare: number } {
  const occ: [number, number][] = [];
  for (const ps of stops) {
    const first = window.fromMs + ps.offsetS * 1000;
    for (let t = first; t < window.toMs; t += ps.periodS * 1000)
      occ.push([t, Math.min(window.toMs, t + ps.durationS * 1000)]);
  }
  let span = 0;
  let running = 0;
  for (const [a, b] of occ) {
    span += b - a;
    for (const iv of stations) {
      for (const x of iv) {
        if (x.state === 'running' && x.end > a && x.start < b)
          running += Math.min(x.end, b) - Math.max(x.start, a);
      }
    }
  }
  const total = span * stations.length;
  return { spanMs: span, runningShare: total > 0 ? running / total : 0 };
}

function row(metric: string, observed: number, simulated: Estimate): ValidationRow {
  return {
    metric,
    observed,
    simulated,
    relativeError: observed !== 0 ? (simulated.mean - observed) / observed : Number.NaN,
  };
}

function pick(o: CalibrateOptions): { line?: string; product?: string } {
  const r: { line?: string; product?: string } = {};
  if (o.line !== undefined) r.line = o.line;
  if (o.product !== undefined) r.product = o.product;
  return r;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
