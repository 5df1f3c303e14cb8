// Prediction versus reality (issue 7): calibrate the simulation from 8 accelerated hours of the
// demo line as the engine recorded them in a historian (the emulator's first 8 hours by default;
// the oven's scrap curve, its disturbances and the wear failures from the whole history before the
// window's end), predict the next 8 hours, then let the plant emulator run them and compare; then
// the same for two what-ifs written to the emulator as PLC writes at the start of the prediction
// period (assembly speed setpoint 110 %, oven zone 2 setpoint 5 °C lower) and applied to the
// model. The emulator is replicated over seeds (SIM_SEEDS, default 11–16; the first is the plant
// whose figures are printed), every seed's plant calibrated on its own window and predicting its
// own next 8 hours and its own what-ifs: the mean of the paired throughput errors must be within
// ±3 % and consistent with 0 (one 8-h period of this line varies by about ±9 % from its randomness
// alone, so ±3 % is a statement about the expected throughput, not one period's luck;
// docs/simulation.md), and the mean paired what-if differences consistent with 0. Ground
// truth (the emulator's part finishes) is read only by this test; the simulation sees the
// historian and the plant model, nothing else. SKIP_H=16 or 32 moves the calibration window.
import {
  type Historian,
  ManualClock,
  type Model,
  type SampleBatch,
  SampleBatchBuilder,
  silentLogger,
} from '@gemba/core';
import { MemoryHistorian } from '@gemba/core/testing';
import { createEngine, type Engine } from '@gemba/engine';
import { type Plant, startPlant } from '@gemba/plant';
import { buildLineModel, calibrate, parseChange, runReplications, runWhatIf, studentT } from '@gemba/sim';
import { describe, expect, it } from 'vitest';

const HOURS = 8;
/** When the emulator starts (and the historian's history with it). */
const HISTORY_START = Date.UTC(2026, 0, 5, 5, 0, 0);
const SKIP_H = Number(process.env.SKIP_H ?? 0);
/** The emulator's seeds: the first is the plant the model is calibrated on; all are run for the prediction period. */
const SEEDS = (process.env.SIM_SEEDS ?? '11,12,13,14,15,16').split(',').map(Number);
const SEED = SEEDS[0] as number;
interface Run {
  plant: Plant;
  model: Model;
  engine: Engine;
  historian: Historian;
  line: string;
  /** Good parts out of the last station (ground truth), ms time stamps. */
  goodAt: number[];
  /** Parts scrapped at any station (ground truth), ms time stamps. */
  scrapAt: number[];
  t0: number;
  t1: number;
  t2: number;
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
};

/**
 * Runs the emulator for SKIP_H + 2·HOURS hours, with the engine recording into a historian when
 * `record` (the calibrated plant; the other runs only need the ground truth); `atT1` is called
 * at the start of the second 8-h period (the prediction period).
 */
async function runPlant(
  seed: number,
  record: boolean,
  atT1?: (p: Plant, line: string) => void,
): Promise<Run> {
  const clock = new ManualClock(HISTORY_START);
  const plant = await startPlant({ clock, seed, opcuaPort: false, modbusPort: false, tickMs: 1000 });
  const model = plant.model;
  const line = model.lines[0];
  if (line === undefined) throw new Error('demo model has no line');
  const historian = new MemoryHistorian();
  const engine = createEngine({ model, clock, logger: silentLogger(), historian });
  // What the historian writer would store: the signals calibration reads (counters, levels,
  // setpoints, temperatures, and the stations' condition signals — those with a high-high limit,
  // such as the press's bearing vibration — for wear).
  const keep = new Set(
    model.signals
      .filter(
        (s) =>
          ['part_counter', 'good_counter', 'scrap_counter', 'buffer_level', 'setpoint'].includes(
            s.def.role,
          ) ||
          s.path.endsWith('/temperature') ||
          (s.asset === s.station && s.def.limits?.hihi !== undefined),
      )
      .map((s) => s.path),
  );
  const store = (b: SampleBatch): void => {
    const f = new SampleBatchBuilder(b.length);
    for (let i = 0; i < b.length; i++) {
      const sig = b.signals[i] as string;
      if (keep.has(sig)) f.pushNumber(sig, b.ts[i] as number, b.num[i] as number);
    }
    if (f.length > 0) void historian.append(f.build());
  };
  const lastStation = `${line.path}/${line.stations[line.stations.length - 1]?.id}`;
  const goodAt: number[] = [];
  const scrapAt: number[] = [];
  plant.onTruth((e) => {
    if (e.kind === 'part-finish' && e.outcome === 'scrap') scrapAt.push(e.ts);
    if (
      e.kind === 'part-finish' &&
      e.outcome === 'good' &&
      (e.station === lastStation || `${line.path}/${e.station}` === lastStation)
    )
      goodAt.push(e.ts);
  });
  const initial = new SampleBatchBuilder();
  for (const sig of model.signals) {
    const v = plant.current(sig.path);
    if (v !== undefined) initial.push(sig.path, v.ts, v.value);
  }
  const first = initial.build();
  if (record) {
    engine.ingest(first);
    store(first);
    plant.onSamples((b) => {
      engine.ingest(b);
      store(b);
    });
  }
  const advanceHours = async (h: number): Promise<void> => {
    for (let m = 0; m < h * 60; m++) {
      clock.advance(60_000);
      if (m % 60 === 0) await settle();
    }
    plant.sync();
    if (record) engine.tick();
    await settle();
  };
  await advanceHours(SKIP_H);
  const t0 = clock.now();
  await advanceHours(HOURS);
  const t1 = clock.now();
  atT1?.(plant, line.path);
  await advanceHours(HOURS);
  const t2 = clock.now();
  return { plant, model, engine, historian, line: line.path, goodAt, scrapAt, t0, t1, t2 };
}

/** Scrapped / (scrapped + good out) in [from, to). */
const scrapRate = (r: Run, from: number, to: number): number => {
  const sc = r.scrapAt.filter((t) => t >= from && t < to).length;
  const good = r.goodAt.filter((t) => t >= from && t < to).length;
  return sc / (sc + good);
};

const perHour = (goodAt: number[], from: number, to: number): number =>
  goodAt.filter((t) => t >= from && t < to).length / HOURS;

/** Mean, sample sd and count of a list. */
const stats = (xs: readonly number[]): { mean: number; sd: number; n: number } => {
  const n = xs.length;
  const mean = xs.reduce((a, v) => a + v, 0) / n;
  const sd = n > 1 ? Math.sqrt(xs.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, sd, n };
};

/**
 * 95 % interval of the difference of two means (Welch): the simulated estimate against the
 * emulator's replications. The two agree when it contains 0.
 */
const welch = (
  a: { mean: number; sd: number; n: number },
  b: { mean: number; sd: number; n: number },
): [number, number] => {
  const va = (a.sd * a.sd) / a.n;
  const vb = (b.sd * b.sd) / b.n;
  const se = Math.sqrt(va + vb);
  const df = (va + vb) ** 2 / (va ** 2 / Math.max(1, a.n - 1) + vb ** 2 / Math.max(1, b.n - 1) || 1);
  const h = studentT(Math.max(1, Math.floor(df))) * se;
  const d = a.mean - b.mean;
  return [d - h, d + h];
};

describe('simulation: prediction versus reality (plant emulator, in-process)', () => {
  it('predicts the next 8 h of throughput, a speed change and an oven setpoint change from 8 h of history', async () => {
    const base = await runPlant(SEED, true);
    const { model, t1, t2 } = base;
    const opts = { replications: 200, horizonS: 3600 + HOURS * 3600, warmupS: 3600, workers: 0 } as const;
    // Calibrates a recorded run on its window and predicts its next 8 hours: the simulation
    // starts an hour early (warm-up) so the line is loaded at t1, with shift breaks at the same
    // clock times.
    const calibrateAndPredict = async (r: Run) => {
      const report = await calibrate(
        r.historian,
        model,
        { fromMs: r.t0, toMs: r.t1 },
        // The scrap curve and the wear failures (rare events) from the whole history, the rest
        // from the window.
        {
          // Replications are cheap (a few ms each); 200 make the validation's own noise small
          // (one simulated 8-h window varies by 5–15 parts/h).
          validate: { replications: 200, workers: 0 },
          scrapCurveFromMs: HISTORY_START,
          failureHistoryFromMs: HISTORY_START,
        },
      );
      const cfg = buildLineModel(model, report.parameters, { startMs: r.t1 - 3_600_000 });
      const prediction = await runReplications(cfg, opts);
      const v = report.validation?.rows.find((x) => x.metric.startsWith('throughput'));
      // The two what-ifs, under common random numbers.
      const whatIf = await runWhatIf(
        cfg,
        [
          { name: 'assembly +10 %', changes: [parseChange('assembly.speed=+10%')] },
          { name: 'zone2 −5 °C', changes: [parseChange('oven.zone2.setpoint=-5')] },
        ],
        opts,
      );
      const d = whatIf.scenarios[0]?.throughputDiffPerHour;
      const ds = whatIf.scenarios[1]?.scrapRateDiff;
      const ovenWarnings = whatIf.scenarios[1]?.warnings ?? [];
      if (d === undefined || ds === undefined) throw new Error('what-if without a difference');
      return { report, prediction, v, d, ds, ovenWarnings };
    };
    // 1. The next 8 hours as they are, and the two what-ifs, from the calibrated plant.
    const { report, prediction, v, d, ds, ovenWarnings } = await calibrateAndPredict(base);
    const p = prediction.throughputPerHour;

    // 2. Reality: the emulator's prediction period, replicated over seeds (the calibrated
    // plant is the first). Each seed runs as it is, with the assembly (the bottleneck) speed
    // setpoint written to 110 % at t1, and with oven zone 2's setpoint written 5 °C lower at t1;
    // the same seed otherwise, so each measured difference is paired like the simulated one.
    // Every seed's plant is also calibrated on its own window and predicts its own next 8 hours:
    // the model knows the state of the plant it learnt (e.g. how worn the press bearing is), which
    // other seeds do not share, so its expected throughput is checked against each seed's own
    // future (paired), not only against the seeds' mean; the same for its what-ifs.
    const actual: number[] = [];
    const ownPredicted: number[] = [];
    const ownValidation: number[] = [];
    const ownSpeed: number[] = [];
    const ownScrap: number[] = [];
    /** Whether the seed's model has a scrap curve (its history held temperature deviations). */
    const ownCurve: boolean[] = [];
    const speedDiff: number[] = [];
    const scrapDiff: number[] = [];
    const runs: Run[] = [];
    for (const seed of SEEDS) {
      const b = seed === SEED ? base : await runPlant(seed, true);
      const own =
        seed === SEED ? { report, prediction, v, d, ds, ovenWarnings } : await calibrateAndPredict(b);
      ownPredicted.push(own.prediction.throughputPerHour.mean);
      ownValidation.push(own.v?.relativeError ?? Number.NaN);
      ownSpeed.push(own.d.mean);
      ownScrap.push(own.ds.mean);
      ownCurve.push(own.report.oven?.scrapCurve !== undefined);
      // Without a curve the model cannot answer the oven what-if, and says so.
      expect(own.ovenWarnings.length, `oven what-if warning of seed ${seed}`).toBe(
        own.report.oven?.scrapCurve === undefined ? 1 : 0,
      );
      const faster = await runPlant(seed, false, (plant, line) => {
        expect(plant.write(`${line}/assembly/speed_setpoint`, 110)).toBe(true);
      });
      const cooler = await runPlant(seed, false, (plant, line) => {
        expect(plant.write(`${line}/oven/zone2/setpoint`, 175)).toBe(true);
      });
      const a = perHour(b.goodAt, b.t1, b.t2);
      actual.push(a);
      speedDiff.push(perHour(faster.goodAt, faster.t1, faster.t2) - a);
      scrapDiff.push(scrapRate(cooler, cooler.t1, cooler.t2) - scrapRate(b, b.t1, b.t2));
      runs.push(b, faster, cooler);
    }
    const act = stats(actual);
    const tpInterval = welch(p, act);
    // Each seed's own prediction minus what it then did, and the 95 % interval of their mean
    // (paired over seeds): throughput, the speed what-if's change, the oven what-if's change.
    const paired = (predicted: readonly number[], measured: readonly number[]) => {
      const e = stats(predicted.map((x, i) => x - (measured[i] as number)));
      const h = studentT(Math.max(1, e.n - 1)) * (e.sd / Math.sqrt(e.n));
      return { ...e, ci95: [e.mean - h, e.mean + h] as [number, number] };
    };
    const ownError = ownPredicted.map((x, i) => x - (actual[i] as number));
    const oe = paired(ownPredicted, actual);
    const ownInterval = oe.ci95;
    const speedPaired = paired(ownSpeed, speedDiff);
    // The oven what-if over the seeds whose model has a scrap curve.
    const withCurve = (xs: readonly number[]) => xs.filter((_, i) => ownCurve[i]);
    const scrapPaired = paired(withCurve(ownScrap), withCurve(scrapDiff));
    // The calibrated seed's what-ifs against the seeds' mean (printed).
    const speedInterval = welch(d, stats(speedDiff));
    const scrapInterval = welch(ds, stats(scrapDiff));

    // Printed for the record (the figures the issue asks about).
    // biome-ignore lint/suspicious/noConsole: this test exists to measure and show these figures
    console.log(
      JSON.stringify({
        window: { skipH: SKIP_H, hours: HOURS, seeds: SEEDS },
        validationErrorPct: (v?.relativeError ?? Number.NaN) * 100,
        predictedPerHour: { mean: p.mean, ci95: [p.low, p.high], sdOf8h: p.sd },
        actualPerHour: { calibratedSeed: actual[0], perSeed: actual, mean: act.mean, sd: act.sd },
        predictionErrorPct: {
          calibratedSeed: ((p.mean - (actual[0] as number)) / (actual[0] as number)) * 100,
          seedMean: ((p.mean - act.mean) / act.mean) * 100,
        },
        predictedMinusActual95: tpInterval,
        ownCalibration: {
          predictedPerHour: ownPredicted,
          validationErrorPct: ownValidation.map((x) => x * 100),
          errorPct: ownError.map((x, i) => (x / (actual[i] as number)) * 100),
          meanErrorPct: (oe.mean / act.mean) * 100,
          meanError95: ownInterval,
        },
        bottleneck: {
          predicted: prediction.bottleneck,
          engine: base.engine.bottleneck(base.line, { fromMs: t1, toMs: t2 })?.average,
        },
        scrapCurve:
          report.oven?.scrapCurve === undefined
            ? null
            : {
                a: report.oven.scrapCurve.a,
                b: report.oven.scrapCurve.b,
                form: report.oven.scrapCurve.form,
                inspectAt: report.oven.scrapCurve.inspectAt,
                lagS: report.oven.scrapCurve.lagS,
                averagingS: report.oven.scrapCurve.averagingS,
                cureSdC: report.oven.scrapCurve.cureSdC,
                lr: report.oven.scrapCurve.likelihoodRatio,
              },
        speedWhatIf: {
          predictedDiffPerHour: { mean: d.mean, ci95: [d.low, d.high], sd: d.sd },
          measuredDiffPerHour: { perSeed: speedDiff, ...stats(speedDiff) },
          predictedMinusMeasured95: speedInterval,
          ownPredictedDiffPerHour: ownSpeed,
          ownMinusMeasured: { mean: speedPaired.mean, ci95: speedPaired.ci95 },
        },
        ovenWhatIf: {
          predictedScrapRateDiff: { mean: ds.mean, ci95: [ds.low, ds.high], sd: ds.sd },
          measuredScrapRateDiff: { perSeed: scrapDiff, ...stats(scrapDiff) },
          predictedMinusMeasured95: scrapInterval,
          ownPredictedScrapRateDiff: ownScrap,
          ownHasScrapCurve: ownCurve,
          ownMinusMeasured: { mean: scrapPaired.mean, ci95: scrapPaired.ci95 },
        },
      }),
    );

    // A disturbance rate from fewer than three episodes comes with its (wide) interval.
    const episodes = report.oven?.disturbances?.profiles.length ?? 0;
    expect(report.warnings.some((w) => w.includes('disturbances: the rate rests on'))).toBe(
      episodes > 0 && episodes < 3,
    );
    // The bottleneck the model predicts is the one the line then has.
    expect(`${base.line}/${prediction.bottleneck}`).toBe(
      base.engine.bottleneck(base.line, { fromMs: t1, toMs: t2 })?.average,
    );
    // The calibrated model reproduces its own window (validation): the observed throughput lies
    // in the 95 % prediction interval of one simulated window, mean ± t·sd·√(1 + 1/n).
    const pi = (e: { mean: number; sd: number; n: number }): [number, number] => {
      const h = studentT(e.n - 1) * e.sd * Math.sqrt(1 + 1 / e.n);
      return [e.mean - h, e.mean + h];
    };
    expect(v).toBeDefined();
    if (v !== undefined) {
      const [vlo, vhi] = pi(v.simulated);
      expect(v.observed, 'validation on the calibration window').toBeGreaterThanOrEqual(vlo);
      expect(v.observed, 'validation on the calibration window').toBeLessThanOrEqual(vhi);
      // ... and its expected throughput is within 6 % of the observed (measured −0.5 % to −5.2 %
      // over three windows and three seeds, the worst where the window had no failure at four
      // stations that the model gives their prior rate; docs/simulation.md).
      expect(Math.abs(v.relativeError), 'validation error').toBeLessThanOrEqual(0.06);
    }

    // Both what-ifs go the way the emulator goes: the cooler zone scraps more, the faster
    // bottleneck makes more.
    expect(ds.low).toBeGreaterThan(0);
    expect(stats(scrapDiff).mean).toBeGreaterThan(0);
    expect(d.low).toBeGreaterThan(0);
    expect(stats(speedDiff).mean).toBeGreaterThan(0);
    // Every seed's own calibration reproduces its window within 6 % too.
    for (const e of ownValidation)
      expect(Math.abs(e), 'validation error of a seed').toBeLessThanOrEqual(0.06);
    // Paired over seeds, every seed's model against its own plant. Throughput: the mean error is
    // within ±3 % of the seeds' mean throughput and its 95 % interval contains 0. (The calibrated
    // seed's prediction against the other seeds' mean, `tpInterval`, is printed but no test of a
    // model that knows its plant's state: the seeds' bearings wear out at other times, and a
    // window where the weld had its worst hours makes that seed's model expect a slower weld.)
    expect(Math.abs(oe.mean / act.mean), 'mean prediction error').toBeLessThanOrEqual(0.03);
    expect(ownInterval[0]).toBeLessThanOrEqual(0);
    expect(ownInterval[1]).toBeGreaterThanOrEqual(0);
    // The what-ifs: the predicted changes agree with the measured ones (the 95 % interval of the
    // mean paired difference contains 0); the oven's over the seeds whose history let their model
    // learn a scrap curve (a heater fault or a setpoint change: from the first 8 hours, seed 11
    // and two more of the six).
    expect(ownCurve[0], 'the calibrated plant has a scrap curve').toBe(true);
    expect(ownCurve.filter(Boolean).length).toBeGreaterThanOrEqual(2);
    expect(speedPaired.ci95[0], 'speed what-if').toBeLessThanOrEqual(0);
    expect(speedPaired.ci95[1], 'speed what-if').toBeGreaterThanOrEqual(0);
    expect(scrapPaired.ci95[0], 'oven what-if').toBeLessThanOrEqual(0);
    expect(scrapPaired.ci95[1], 'oven what-if').toBeGreaterThanOrEqual(0);
    // The scrap curve is the oven's physics, the same in every seed: the calibrated plant's
    // oven what-if also agrees with the change measured over all the seeds (Welch), a tighter
    // test than the few seeds whose own history held an excursion.
    expect(scrapInterval[0], 'oven what-if of the calibrated plant').toBeLessThanOrEqual(0);
    expect(scrapInterval[1], 'oven what-if of the calibrated plant').toBeGreaterThanOrEqual(0);
    for (const r of runs) {
      await r.engine.stop();
      await r.plant.stop();
    }
  }, 600_000);
});
