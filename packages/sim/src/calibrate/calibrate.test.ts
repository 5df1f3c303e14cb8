import { readFileSync } from 'node:fs';
import { loadModelFile, parseModel, SampleBatchBuilder, type StateEventData } from '@gemba/core';
import { MemoryHistorian } from '@gemba/core/testing';
import { describe, expect, it } from 'vitest';
import { buildLineModel } from '../line/build-line-model.ts';
import type { DistributionSpec } from '../random/distributions.ts';
import { writeSyntheticHistory } from '../testing/synthetic-history.ts';
import { calibrate, timeWeightedMean } from './calibrate.ts';

const demo = new URL('../../../../examples/demo-line/plant.yaml', import.meta.url).pathname;
const lognormal = (mean: number, cv: number): DistributionSpec => {
  const s2 = Math.log(1 + cv * cv);
  return { family: 'lognormal', mu: Math.log(mean) - s2 / 2, sigma: Math.sqrt(s2) };
};

/** 48 h of a known configuration of the demo line in a MemoryHistorian. */
async function knownLine() {
  const model = await loadModelFile(demo);
  const fromMs = Date.parse('2026-01-05T06:00:00+01:00');
  const hours = 48;
  const truth = buildLineModel(
    model,
    {
      stations: {
        press: {
          cycleTime: lognormal(21, 0.08),
          scrapProbability: 0.02,
          failures: {
            basis: 'operating-time',
            between: { family: 'exponential', mean: 7200 },
            repair: { family: 'lognormal', mu: Math.log(500), sigma: 0.4 },
          },
        },
        weld: {
          cycleTime: lognormal(25, 0.05),
          microStops: { probability: 0.03, duration: { family: 'exponential', mean: 40 } },
        },
        oven: { cycleTime: { family: 'deterministic', value: 22 } },
        assembly: { cycleTime: lognormal(24, 0.1) },
      },
      oven: {
        zones: { zone2: { timeConstantS: 600 } },
        cureNoiseSdC: 1.5,
        scrapLogit: { a: -5, b: 0.08 },
        // Cure scrap is found at test, three stations downstream (as in the demo emulator).
        inspectAt: 'test',
        setpointChanges: [
          { atS: 12 * 3600, zone: 'zone2', setpointC: 172 },
          { atS: 24 * 3600, zone: 'zone2', setpointC: 186 },
          { atS: 36 * 3600, zone: 'zone2', setpointC: 180 },
        ],
      },
    },
    { startMs: fromMs },
  );
  const h = new MemoryHistorian();
  await writeSyntheticHistory(h, model, truth, { seed: 11, fromMs, horizonS: hours * 3600 });
  return { model, fromMs, hours, h };
}

describe('timeWeightedMean', () => {
  it('weighs a level reported by exception by how long it held, from the last value before the window', () => {
    // A buffer that takes a part and passes it on within a second, once a minute: samples
    // 0, 1, 0, 1, ... (their plain mean is 0.5); it held 1 part for 1 s of every 60.
    const t0 = Date.UTC(2026, 0, 5);
    const samples = [{ signal: 'b', ts: t0 - 30_000, value: 0, quality: 'good' as const }];
    for (let m = 0; m < 60; m++) {
      samples.push({ signal: 'b', ts: t0 + m * 60_000, value: 1, quality: 'good' });
      samples.push({ signal: 'b', ts: t0 + m * 60_000 + 1000, value: 0, quality: 'good' });
    }
    expect(timeWeightedMean(samples, { fromMs: t0, toMs: t0 + 3_600_000 })).toBeCloseTo(1 / 60, 12);
    // Before the first sample in the window, the level is the one before it (0 here).
    expect(timeWeightedMean(samples, { fromMs: t0 - 20_000, toMs: t0 + 40_000 })).toBeCloseTo(1 / 60, 12);
    // A bad sample holds nothing; nothing known in the window gives undefined.
    expect(timeWeightedMean([], { fromMs: t0, toMs: t0 + 1 })).toBeUndefined();
  });
});

describe('calibration from the historian recovers a known line', () => {
  it('fits cycle times, failures, scrap, the oven and validates', async () => {
    const { model, fromMs, hours, h } = await knownLine();
    const report = await calibrate(
      h,
      model,
      { fromMs, toMs: fromMs + hours * 3600_000 },
      { validate: { replications: 5, workers: 0 } },
    );

    const st = (id: string) => report.stations.find((s) => s.id === id);
    const within = (
      est: { value: number; se: number } | undefined,
      truthValue: number,
      what: string,
    ): void => {
      expect(est, what).toBeDefined();
      expect(
        Math.abs((est?.value ?? 0) - truthValue),
        `${what}: ${est?.value} ± ${est?.se} vs ${truthValue}`,
      ).toBeLessThan(3 * (est?.se ?? 0));
    };
    // Cycle times: family and mean.
    // At a coefficient of variation of 8 % lognormal and gamma are nearly indistinguishable.
    const lnFit = st('press')?.cycleTime?.candidates.find((c) => c.family === 'lognormal');
    expect((lnFit?.aic ?? 1e9) - (st('press')?.cycleTime?.best.aic ?? 0)).toBeLessThan(10);
    expect(st('press')?.cycleTime?.best.family).not.toBe('weibull');
    expect(st('press')?.cycleTime?.best.mean).toBeCloseTo(21, 0);
    expect(st('weld')?.cycleTime?.best.mean).toBeCloseTo(25, 0);
    // Failures of the press: exponential TBF mean 7200 s (operating time), lognormal repairs.
    const f = st('press')?.failures;
    expect(f?.count).toBeGreaterThan(10);
    within(
      f?.between.candidates.find((c) => c.family === 'exponential')?.params.mean,
      7200,
      'press TBF mean',
    );
    within(
      f?.repair.candidates.find((c) => c.family === 'lognormal')?.params.mu,
      Math.log(500),
      'press repair mu',
    );
    expect(st('weld')?.failures).toBeUndefined();
    // ... but the model does not say "never fails": the weld gets its posterior rate under the
    // line's failure-rate prior.
    const pooled = report.parameters.stations?.weld?.failures;
    expect(pooled?.between).toMatchObject({ family: 'exponential' });
    expect(st('weld')?.notes.some((n) => n.includes("line's failure-rate prior"))).toBe(true);
    // Scrap and micro-stops.
    const sc = st('press')?.scrap;
    within({ value: sc?.probability ?? 0, se: sc?.se ?? 0 }, 0.02, 'press scrap');
    const ms = st('weld')?.microStops;
    expect(ms?.probability.low).toBeLessThanOrEqual(0.03);
    expect(ms?.probability.high).toBeGreaterThanOrEqual(0.03);
    // Oven: zone 2 time constant and the scrap curve.
    within(report.oven?.zones.find((z) => z.id === 'zone2')?.timeConstantS, 600, 'zone2 tau');
    expect(report.oven?.scrapCurve?.inspectAt).toBe('test');
    within(report.oven?.scrapCurve?.a, -5, 'scrap curve a');
    within(report.oven?.scrapCurve?.b, 0.08, 'scrap curve b');
    // Validation: the calibrated model reproduces the window's throughput within 3 %.
    const tp = report.validation?.rows.find((r) => r.metric.startsWith('throughput'));
    expect(Math.abs(tp?.relativeError ?? 1)).toBeLessThan(0.03);
  });

  it('fits the scrap curve on a longer history when the window has no temperature deviations', async () => {
    const { model, fromMs, hours, h } = await knownLine();
    // The last 8 hours: zone 2 back at 180 °C for hours, no deviations to learn from...
    const window = { fromMs: fromMs + (hours - 8) * 3600_000, toMs: fromMs + hours * 3600_000 };
    const short = await calibrate(h, model, window, { validate: false });
    // ... while the whole history holds the setpoint excursions.
    const long = await calibrate(h, model, window, { validate: false, scrapCurveFromMs: fromMs });
    const curve = long.oven?.scrapCurve;
    expect(curve?.inspectAt).toBe('test');
    expect(Math.abs((curve?.b.value ?? 0) - 0.08)).toBeLessThan(3 * (curve?.b.se ?? 0));
    expect(long.parameters.oven?.scrapLogit?.b).toBe(curve?.b.value);
    // The short window finds no curve, or a much less certain one.
    const sb = short.oven?.scrapCurve?.b.se;
    expect(sb === undefined || sb > 2 * (curve?.b.se ?? 0)).toBe(true);
  });

  it('calibrates from where the history begins when it begins inside the window', async () => {
    const { model, fromMs, h } = await knownLine();
    // "The last 8 hours" asked 3 hours before the history's start: those hours are unknown, not
    // idle; calibration starts at the first state event and says so.
    // (fractional ms, as an accelerated clock gives)
    const asked = { fromMs: fromMs - 3 * 3600_000 + 0.25, toMs: fromMs + 5 * 3600_000 + 0.5 };
    const r = await calibrate(h, model, asked, { validate: { replications: 20, workers: 0 } });
    expect(r.window).toEqual({ fromMs, toMs: asked.toMs });
    expect(r.warnings.join('\n')).toContain('3.0 h into the window: calibrated from there (5.0 h)');
    const same = await calibrate(h, model, { fromMs, toMs: asked.toMs }, { validate: false });
    expect(r.observed.throughputPerHour).toBe(same.observed.throughputPerHour);
    const tp = r.validation?.rows.find((x) => x.metric.startsWith('throughput'));
    expect(Math.abs(tp?.relativeError ?? 1)).toBeLessThan(0.1);
  });

  it("takes a wear failure's repair time from the maintenance plan until a renewal is seen", async () => {
    // 8 hours of the demo line; the press's bearing vibration grows with its running time
    // (1.6 mm/s new, ×e per 6 running hours) and has not failed yet.
    const text = readFileSync(demo, 'utf8');
    const fromMs = Date.parse('2026-01-05T06:00:00+01:00');
    const toMs = fromMs + 8 * 3600_000;
    const withBearing = async (modelText: string) => {
      const model = parseModel(modelText, 'plant.yaml');
      const h = new MemoryHistorian();
      const truth = buildLineModel(
        model,
        {
          stations: {
            press: { cycleTime: lognormal(21, 0.08) },
            weld: {
              failures: {
                basis: 'operating-time',
                between: { family: 'exponential', mean: 3600 },
                repair: { family: 'exponential', mean: 600 },
              },
            },
          },
        },
        { startMs: fromMs },
      );
      await writeSyntheticHistory(h, model, truth, { seed: 3, fromMs, horizonS: 8 * 3600 });
      const press = 'acme/plant1/assembly/line1/press';
      const states = await h.queryEvents({ fromMs, toMs, kind: 'state', sourcePrefix: press });
      const b = new SampleBatchBuilder();
      let run = 3 * 3600;
      for (let i = 0; i < states.length; i++) {
        const e = states[i];
        if (
          e === undefined ||
          e.source !== press ||
          (e.data as unknown as StateEventData).state !== 'running'
        )
          continue;
        const end = states.slice(i + 1).find((x) => x.source === press)?.ts ?? toMs;
        for (let t = e.ts; t < end; t += 5000)
          b.push(`${press}/vibration`, t, 1.6 * Math.exp((run + (t - e.ts) / 1000) / 21_600));
        run += (end - e.ts) / 1000;
      }
      await h.append(b.build());
      return calibrate(h, model, { fromMs, toMs }, { validate: false });
    };
    const planned = await withBearing(text);
    expect(planned.stations.find((s) => s.id === 'press')?.wear?.failures).toEqual([]);
    expect(planned.parameters.wear?.press?.repair).toEqual({
      family: 'triangular',
      min: 3600,
      mode: 4800,
      max: 8400,
    });
    expect(planned.stations.find((s) => s.id === 'press')?.notes).toContain(
      "no renewal seen: its repair time taken from the maintenance plan, 'Replace the main bearing': 60–140 min, most likely 80 (mean 93)",
    );
    // Without the plan, the line's mean repair time stands in (the weld's repairs here).
    const unplanned = await withBearing(text.replace(/\n *renewal: .*\n/, '\n'));
    const repair = unplanned.parameters.wear?.press?.repair;
    expect(repair?.family).toBe('exponential');
    // (the line's mean counts every down span; the weld's fit treats cut ones as censored)
    const weldRepairs = unplanned.stations.find((s) => s.id === 'weld')?.failures?.repair.best.mean ?? 0;
    const mean = repair?.family === 'exponential' ? repair.mean : 0;
    expect(Math.abs(mean / weldRepairs - 1)).toBeLessThan(0.02);
    expect(unplanned.stations.find((s) => s.id === 'press')?.notes.join('\n')).toContain(
      "line's mean repair time",
    );
  });
});
