import { describe, expect, it } from 'vitest';
import type { LineConfig } from '../line/line-config.ts';
import { runReplications } from './replications.ts';
import { applyChanges, parseChange, runWhatIf } from './what-if.ts';
import { runTasks } from './worker-pool.ts';

const exp = (mean: number) => ({ family: 'exponential' as const, mean });

function demoLike(): LineConfig {
  return {
    line: 'test/line',
    stations: [
      {
        id: 'press',
        cycleTime: { family: 'normal', mean: 20, sd: 2 },
        speed: 1,
        scrapProbability: 0.01,
        failures: { basis: 'operating-time', between: exp(3600), repair: exp(400) },
      },
      {
        id: 'weld',
        cycleTime: { family: 'lognormal', mu: Math.log(24), sigma: 0.1 },
        speed: 1,
        scrapProbability: 0,
      },
      { id: 'oven', cycleTime: { family: 'deterministic', value: 22 }, speed: 1, scrapProbability: 0 },
    ],
    buffers: [
      { id: 'press-weld', capacity: 5 },
      { id: 'weld-oven', capacity: 5 },
    ],
    plannedStops: [],
    oven: {
      station: 'oven',
      zones: [{ id: 'zone2', setpointC: 180, timeConstantS: 600, ambientC: 20, maxRiseC: 230 }],
      qualityZone: 'zone2',
      targetC: 180,
      cureNoiseSdC: 1.5,
      scrapLogit: { a: -5, b: 0.15 },
    },
  };
}

describe('experiments', () => {
  it('parses changes', () => {
    expect(parseChange('weld.speed=+10%')).toMatchObject({
      target: 'weld',
      param: 'speed',
      op: 'mul',
      value: 1.1,
    });
    expect(parseChange('weld-oven.capacity=20')).toMatchObject({
      target: 'weld-oven',
      param: 'capacity',
      op: 'set',
      value: 20,
    });
    expect(parseChange('oven.zone2.setpoint=-5')).toMatchObject({
      target: 'oven.zone2',
      param: 'setpoint',
      op: 'add',
      value: -5,
    });
    expect(parseChange('press.mttr=*0.5')).toMatchObject({ op: 'mul', value: 0.5 });
    expect(() => parseChange('weld.speed')).toThrow(/not a change/);
    const cfg = applyChanges(
      demoLike(),
      ['weld.speed=+10%', 'weld-oven.capacity=20', 'oven.zone2.setpoint=-5', 'press.mttr=*0.5'].map(
        parseChange,
      ),
    );
    expect(cfg.stations[1]?.speed).toBeCloseTo(1.1);
    expect(cfg.buffers[1]?.capacity).toBe(20);
    expect(cfg.oven?.zones[0]?.setpointC).toBe(175);
    expect(cfg.stations[0]?.failures?.repair).toEqual(exp(200));
    // A repair-time change reaches a wear failure's renewal too (and a station with wear only).
    const worn = demoLike();
    (worn.stations[1] as (typeof worn.stations)[number]).wear = {
      level: 2,
      growthPerS: 1e-5,
      newLevel: 1,
      failAt: { family: 'deterministic', value: 11 },
      repair: exp(3600),
    };
    expect(applyChanges(worn, [parseChange('weld.mttr=*0.5')]).stations[1]?.wear?.repair).toEqual(exp(1800));
    expect(() => applyChanges(demoLike(), [parseChange('drill.speed=+10%')])).toThrow(
      /no station, buffer or oven zone 'drill'/,
    );
  });

  it('worker threads give the same results as this thread', async () => {
    const tasks = [1, 2, 3].map((seed) => ({ config: demoLike(), options: { seed, horizonS: 50_000 } }));
    const inThread = await runTasks(tasks, { workers: 0 });
    const progress: number[] = [];
    const onWorkers = await runTasks(tasks, { workers: 2, onProgress: (d) => progress.push(d) });
    expect(onWorkers).toEqual(inThread);
    expect(progress).toEqual([1, 2, 3]);
  });

  it('cancels', async () => {
    const ac = new AbortController();
    const tasks = Array.from({ length: 50 }, (_, i) => ({
      config: demoLike(),
      options: { seed: i, horizonS: 200_000 },
    }));
    const p = runTasks(tasks, { workers: 1, signal: ac.signal, onProgress: (d) => d === 1 && ac.abort() });
    await expect(p).rejects.toMatchObject({ code: 'GEMBA_SIM_CANCELLED' });
  });

  it('replications give a CI, a warm-up and the bottleneck', async () => {
    const r = await runReplications(demoLike(), { replications: 8, horizonS: 3 * 86_400, workers: 0 });
    expect(r.throughputPerHour.n).toBe(8);
    expect(r.throughputPerHour.halfWidth).toBeGreaterThan(0);
    expect(r.warmupS).toBeGreaterThanOrEqual(0);
    expect(r.warmupS).toBeLessThan(1.5 * 86_400);
    expect(r.bottleneck).toBe('weld');
    expect(r.throughputPerHour.mean).toBeLessThan(3600 / 24);
  });

  it('what-if under common random numbers: faster bottleneck helps, a cooler oven scraps more', async () => {
    const r = await runWhatIf(
      demoLike(),
      [
        { name: 'weld +10 %', changes: [parseChange('weld.speed=+10%')] },
        { name: 'zone2 −5 °C', changes: [parseChange('oven.zone2.setpoint=-5')] },
        { name: 'nothing', changes: [] },
      ],
      { replications: 6, horizonS: 2 * 86_400, warmupS: 3600, workers: 0 },
    );
    const [faster, cooler, same] = r.scenarios;
    expect(faster?.throughputDiffPerHour.low).toBeGreaterThan(0);
    expect(cooler?.ovenScrapRateDiff?.low).toBeGreaterThan(0);
    // An unchanged scenario reproduces the baseline exactly (same seeds, same streams).
    expect(same?.throughputDiffPerHour.mean).toBe(0);
    expect(same?.throughputDiffPerHour.sd).toBe(0);
    expect(cooler?.warnings).toEqual([]);
  });

  it('warns that an oven setpoint what-if cannot change scrap when the model has no scrap curve', async () => {
    const flat = demoLike();
    if (flat.oven !== undefined) flat.oven.scrapLogit = { a: -5, b: 0 };
    const r = await runWhatIf(
      flat,
      [
        { name: 'zone2 −5 °C', changes: [parseChange('oven.zone2.setpoint=-5')] },
        { name: 'weld +10 %', changes: [parseChange('weld.speed=+10%')] },
      ],
      { replications: 2, horizonS: 86_400, warmupS: 3600, workers: 0 },
    );
    const [cooler, faster] = r.scenarios;
    expect(cooler?.scrapRateDiff.mean).toBe(0);
    expect(cooler?.warnings).toHaveLength(1);
    expect(cooler?.warnings[0]).toContain('no scrap curve calibrated');
    expect(faster?.warnings).toEqual([]);
  });

  it('warns when an oven setpoint what-if goes beyond the deviations the scrap curve was learnt from', async () => {
    const cfg = demoLike();
    if (cfg.oven !== undefined) cfg.oven.scrapLogit = { a: -5, b: 0.15, learntWithinC: 4 };
    const r = await runWhatIf(
      cfg,
      [
        { name: '−3 °C', changes: [parseChange('oven.zone2.setpoint=-3')] },
        { name: '−5 °C', changes: [parseChange('oven.zone2.setpoint=-5')] },
      ],
      { replications: 2, horizonS: 86_400, warmupS: 3600, workers: 0 },
    );
    expect(r.scenarios[0]?.warnings).toEqual([]);
    expect(r.scenarios[1]?.warnings).toEqual([
      'the quality zone at 175 °C is 5.0 °C off its target, beyond the 4.0 °C the scrap curve was learnt from: its scrap is extrapolated',
    ]);
  });
});
