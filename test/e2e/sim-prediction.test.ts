// Prediction versus reality (issue 7): calibrate the simulation from 8 accelerated hours of the
// demo line as the engine recorded them in a historian, predict the next 8 hours, then let the
// plant emulator run them and compare; then the same for a what-if (a speed setpoint written to
// the emulator as a PLC write, and the same change to the model). Ground truth (the emulator's
// part finishes) is read only by this test; the simulation sees the historian and the plant
// model, nothing else. SKIP_H=16 (or 32) starts the calibration window that many hours later.
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
const SKIP_H = Number(process.env.SKIP_H ?? 0);
const SEED = 11;

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
 * Runs the emulator for SKIP_H + 2·HOURS hours with the engine recording into a historian;
 * `atT1` is called at the start of the second 8-h period (the prediction period).
 */
async function runPlant(atT1?: (p: Plant, line: string) => void): Promise<Run> {
  const clock = new ManualClock(Date.UTC(2026, 0, 5, 5, 0, 0));
  const plant = await startPlant({ clock, seed: SEED, opcuaPort: false, modbusPort: false, tickMs: 1000 });
  const model = plant.model;
  const line = model.lines[0];
  if (line === undefined) throw new Error('demo model has no line');
  const historian = new MemoryHistorian();
  const engine = createEngine({ model, clock, logger: silentLogger(), historian });
  // What the historian writer would store: the signals calibration reads.
  const keep = new Set(
    model.signals
      .filter(
        (s) =>
          ['part_counter', 'good_counter', 'scrap_counter', 'buffer_level', 'setpoint'].includes(
            s.def.role,
          ) || s.path.endsWith('/temperature'),
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
  engine.ingest(first);
  store(first);
  plant.onSamples((b) => {
    engine.ingest(b);
    store(b);
  });
  const advanceHours = async (h: number): Promise<void> => {
    for (let m = 0; m < h * 60; m++) {
      clock.advance(60_000);
      if (m % 60 === 0) await settle();
    }
    plant.sync();
    engine.tick();
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

describe('simulation: prediction versus reality (plant emulator, in-process)', () => {
  it('predicts the next 8 h of throughput and a speed change from 8 h of history', async () => {
    const base = await runPlant();
    const { model, t0, t1, t2 } = base;
    const report = await calibrate(
      base.historian,
      model,
      { fromMs: t0, toMs: t1 },
      { validate: { replications: 10, workers: 0 } },
    );
    const v = report.validation?.rows.find((r) => r.metric.startsWith('throughput'));

    // 1. The next 8 hours as they are. The simulation starts an hour early (warm-up) so the
    // line is loaded at t1, with shift breaks at the same clock times.
    const cfg = buildLineModel(model, report.parameters, { startMs: t1 - 3_600_000 });
    const opts = { replications: 10, horizonS: 3600 + HOURS * 3600, warmupS: 3600, workers: 0 } as const;
    const prediction = await runReplications(cfg, opts);
    const actual = perHour(base.goodAt, t1, t2);
    const p = prediction.throughputPerHour;

    // 2. What-if: assembly (the bottleneck) 10 % faster, written to the emulator as a PLC
    // setpoint at t1 (the same seed otherwise, so the emulator's difference is paired too).
    const faster = await runPlant((plant, line) => {
      expect(plant.write(`${line}/assembly/speed_setpoint`, 110)).toBe(true);
    });
    const whatIf = await runWhatIf(
      cfg,
      [{ name: 'assembly +10 %', changes: [parseChange('assembly.speed=+10%')] }],
      opts,
    );
    const d = whatIf.scenarios[0]?.throughputDiffPerHour;
    const measuredDiff = perHour(faster.goodAt, t1, t2) - actual;

    // 3. What-if: oven zone 2 five degrees cooler, written as a setpoint at t1.
    const cooler = await runPlant((plant, line) => {
      expect(plant.write(`${line}/oven/zone2/setpoint`, 175)).toBe(true);
    });
    const ovenWhatIf = await runWhatIf(
      cfg,
      [{ name: 'zone2 −5 °C', changes: [parseChange('oven.zone2.setpoint=-5')] }],
      opts,
    );
    const ds = ovenWhatIf.scenarios[0]?.scrapRateDiff;
    const measuredScrapDiff = scrapRate(cooler, t1, t2) - scrapRate(base, t1, t2);

    // Printed for the record (the figures the issue asks about).
    // biome-ignore lint/suspicious/noConsole: this test exists to measure and show these figures
    console.log(
      JSON.stringify({
        window: { skipH: SKIP_H, hours: HOURS },
        validationErrorPct: (v?.relativeError ?? Number.NaN) * 100,
        predictedPerHour: { mean: p.mean, ci95: [p.low, p.high], sdOf8h: p.sd },
        actualPerHour: actual,
        predictionErrorPct: ((p.mean - actual) / actual) * 100,
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
                inspectAt: report.oven.scrapCurve.inspectAt,
                lr: report.oven.scrapCurve.likelihoodRatio,
              },
        ovenWhatIf: {
          predictedScrapRateDiff:
            ds === undefined ? null : { mean: ds.mean, ci95: [ds.low, ds.high], sd: ds.sd },
          measuredScrapRateDiff: measuredScrapDiff,
        },
        speedWhatIf: {
          predictedDiffPerHour: d === undefined ? null : { mean: d.mean, ci95: [d.low, d.high], sd: d.sd },
          measuredDiffPerHour: measuredDiff,
        },
      }),
    );

    // The bottleneck the model predicts is the one the line then has.
    expect(`${base.line}/${prediction.bottleneck}`).toBe(
      base.engine.bottleneck(base.line, { fromMs: t1, toMs: t2 })?.average,
    );
    // One 8-h period varies around the predicted mean: the actual output must lie in the 95 %
    // prediction interval of a single period, mean ± t·sd·√(1 + 1/n). (The issue's ±3 % is
    // printed above; docs/simulation.md says why one 8-h period cannot be held to it.)
    const pi = (e: { mean: number; sd: number; n: number }): [number, number] => {
      const h = studentT(e.n - 1) * e.sd * Math.sqrt(1 + 1 / e.n);
      return [e.mean - h, e.mean + h];
    };
    // The calibrated model reproduces its own window (validation): the observed throughput lies
    // in the prediction interval of the simulated windows.
    expect(v).toBeDefined();
    if (v !== undefined) {
      const [vlo, vhi] = pi(v.simulated);
      expect(v.observed, 'validation on the calibration window').toBeGreaterThanOrEqual(vlo);
      expect(v.observed, 'validation on the calibration window').toBeLessThanOrEqual(vhi);
    }
    const [lo, hi] = pi(p);
    expect(actual).toBeGreaterThanOrEqual(lo);
    expect(actual).toBeLessThanOrEqual(hi);
    // The speed change: the measured difference lies in the prediction interval of the paired
    // difference, and both say the line got faster.
    expect(d).toBeDefined();
    if (d !== undefined) {
      const [dlo, dhi] = pi(d);
      expect(measuredDiff).toBeGreaterThanOrEqual(dlo);
      expect(measuredDiff).toBeLessThanOrEqual(dhi);
      expect(d.low).toBeGreaterThan(0);
    }
    expect(measuredDiff).toBeGreaterThan(0);
    for (const r of [base, faster, cooler]) {
      await r.engine.stop();
      await r.plant.stop();
    }
  }, 600_000);
});
