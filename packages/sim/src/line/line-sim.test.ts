import { describe, expect, it } from 'vitest';
import type { DistributionSpec } from '../random/distributions.ts';
import { estimate } from '../stats/confidence.ts';
import type { LineConfig, StationConfig } from './line-config.ts';
import { simulateLine } from './line-sim.ts';

function station(id: string, cycleTime: DistributionSpec, extra: Partial<StationConfig> = {}): StationConfig {
  return { id, cycleTime, speed: 1, scrapProbability: 0, ...extra };
}

function line(stations: StationConfig[], capacities: number[]): LineConfig {
  return {
    line: 'test/line',
    stations,
    buffers: capacities.map((capacity, i) => ({ id: `b${i}`, capacity })),
    plannedStops: [],
  };
}

const exp = (mean: number): DistributionSpec => ({ family: 'exponential', mean });

type OvenConfig = NonNullable<LineConfig['oven']>;
/**
 * The oven tests' oven: zone 2 (τ 300 s, from 20 °C, 230 °C of heater rise) the quality zone
 * with target 180 °C, no cure noise, scrap p(d) = σ(−4 + 0.1 d²); `zone` and `rest` change it.
 */
function ovenOf(zone: Partial<OvenConfig['zones'][number]> = {}, rest: Partial<OvenConfig> = {}): OvenConfig {
  return {
    station: 'oven',
    zones: [{ id: 'zone2', setpointC: 180, timeConstantS: 300, ambientC: 20, maxRiseC: 230, ...zone }],
    qualityZone: 'zone2',
    targetC: 180,
    cureNoiseSdC: 0,
    scrapLogit: { a: -4, b: 0.1 },
    ...rest,
  };
}
/** The scrap probability of that oven at a deviation of d °C. */
const ovenScrapP = (d: number): number => 1 / (1 + Math.exp(-(-4 + 0.1 * d * d)));

/** Throughput of the two-machine exponential line (blocking after service) from its birth–death chain. */
function twoMachineThroughput(mu1: number, mu2: number, capacity: number): number {
  // States 0..capacity+2: parts in buffer + at machine 2, plus machine 1 holding a blocked part.
  const n = capacity + 3;
  const p: number[] = [1];
  for (let k = 1; k < n; k++) p.push((p[k - 1] as number) * (mu1 / mu2));
  const z = p.reduce((a, v) => a + v, 0);
  return mu2 * (1 - (p[0] as number) / z);
}

describe('line simulation: textbook lines (fixed seeds)', () => {
  it('a deterministic line produces 1 / the slowest cycle', () => {
    const cfg = line(
      [
        station('a', { family: 'deterministic', value: 20 }),
        station('b', { family: 'deterministic', value: 26 }),
        station('c', { family: 'deterministic', value: 18 }),
      ],
      [5, 5],
    );
    const r = simulateLine(cfg, { seed: 1, horizonS: 100_000, warmupS: 1000 });
    expect(r.throughputPerHour).toBeCloseTo(3600 / 26, 1);
    expect(r.bottleneck).toBe('b');
    expect(r.stations[1]?.stateShares.running).toBeCloseTo(1, 6);
  });

  it('two exponential machines with a finite buffer match the Markov-chain throughput', () => {
    for (const [mu1, mu2, cap] of [
      [1, 1, 2],
      [1.2, 1, 0],
      [1, 1.5, 4],
    ] as const) {
      const reps = Array.from({ length: 10 }, (_, i) =>
        simulateLine(line([station('m1', exp(1 / mu1)), station('m2', exp(1 / mu2))], [cap]), {
          seed: 50 + i,
          horizonS: 50_000,
          warmupS: 1000,
        }),
      );
      const est = estimate(reps.map((r) => r.throughputPerHour / 3600));
      const th = twoMachineThroughput(mu1, mu2, cap);
      expect(est.low, `μ=${mu1},${mu2} B=${cap}: CI [${est.low}, ${est.high}] vs ${th}`).toBeLessThanOrEqual(
        th,
      );
      expect(
        est.high,
        `μ=${mu1},${mu2} B=${cap}: CI [${est.low}, ${est.high}] vs ${th}`,
      ).toBeGreaterThanOrEqual(th);
    }
  });

  it("Little's law holds on every buffer (L = λW)", () => {
    const cfg = line(
      [station('a', exp(10)), station('b', exp(11)), station('c', exp(9)), station('d', exp(10.5))],
      [3, 6, 2],
    );
    const r = simulateLine(cfg, { seed: 7, horizonS: 2_000_000, warmupS: 10_000 });
    for (const b of r.buffers) {
      const lw = b.arrivalRatePerS * b.meanSojournS;
      expect(Math.abs(b.meanLevel - lw) / b.meanLevel, b.id).toBeLessThan(0.01);
      expect(b.meanLevel).toBeLessThanOrEqual(b.capacity);
    }
  });

  it('a single station with failures: availability = MTBF / (MTBF + MTTR)', () => {
    const cfg = line(
      [
        station(
          'a',
          { family: 'deterministic', value: 10 },
          {
            failures: { basis: 'operating-time', between: exp(1000), repair: exp(100) },
          },
        ),
      ],
      [],
    );
    const reps = Array.from({ length: 10 }, (_, i) => simulateLine(cfg, { seed: i, horizonS: 500_000 }));
    const est = estimate(reps.map((r) => r.throughputPerHour));
    const th = (3600 / 10) * (1000 / 1100);
    expect(est.low).toBeLessThanOrEqual(th);
    expect(est.high).toBeGreaterThanOrEqual(th);
    const down = estimate(reps.map((r) => r.stations[0]?.stateShares.down ?? 0));
    expect(down.low).toBeLessThanOrEqual(100 / 1100);
    expect(down.high).toBeGreaterThanOrEqual(100 / 1100);
  });

  it('planned stops pause the line for their share of the time', () => {
    const cfg = line(
      [
        station('a', { family: 'deterministic', value: 10 }),
        station('b', { family: 'deterministic', value: 12 }),
      ],
      [4],
    );
    cfg.plannedStops.push({ id: 'break', periodS: 8 * 3600, offsetS: 4 * 3600, durationS: 1800 });
    const r = simulateLine(cfg, { seed: 1, horizonS: 30 * 8 * 3600 });
    expect(r.throughputPerHour).toBeCloseTo((3600 / 12) * (1 - 1800 / 28_800), 0);
    expect(r.stations[1]?.stateShares.stopped).toBeCloseTo(1800 / 28_800, 3);
  });

  it('the same seed gives the same run; another seed a different one', () => {
    const cfg = line([station('a', exp(10)), station('b', exp(10))], [2]);
    const a = simulateLine(cfg, { seed: 3, horizonS: 10_000 });
    const b = simulateLine(cfg, { seed: 3, horizonS: 10_000 });
    const c = simulateLine(cfg, { seed: 4, horizonS: 10_000 });
    expect(b).toEqual(a);
    expect(c.goodParts).not.toBe(a.goodParts);
  });

  it('oven scrap follows the cure-temperature deviation and the heater limit', () => {
    const base = line([station('oven', { family: 'deterministic', value: 10 })], []);
    const withOven = (setpointC: number, maxRiseC = 200): LineConfig => ({
      ...base,
      oven: ovenOf({ setpointC, maxRiseC }),
    });
    const p = ovenScrapP;
    const onTarget = simulateLine(withOven(180), { seed: 1, horizonS: 200_000 });
    const cooler = simulateLine(withOven(175), { seed: 1, horizonS: 200_000 });
    const limited = simulateLine(withOven(180, 150), { seed: 1, horizonS: 200_000 });
    expect(onTarget.oven?.scrapRate).toBeCloseTo(p(0), 2);
    expect(cooler.oven?.scrapRate).toBeCloseTo(p(5), 2);
    expect(limited.oven?.meanCureTempC).toBeCloseTo(170, 6);
    expect(limited.oven?.scrapRate).toBeCloseTo(p(10), 2);
  });

  it('quality-zone disturbances: a replayed episode shifts the cure temperature while it lasts; drawn ones come at their rate', () => {
    const oven = (disturbances: NonNullable<LineConfig['oven']>['disturbances']): LineConfig => ({
      ...line([station('oven', { family: 'deterministic', value: 10 })], []),
      oven: ovenOf({}, disturbances === undefined ? {} : { disturbances }),
    });
    const p = ovenScrapP;
    // 10 °C low for 10 000 s of a 100 000-s run: a tenth of the parts at p(10), the rest at p(0).
    const replay = simulateLine(
      oven({ stepS: 1000, profiles: [Array(10).fill(-10)], ratePerS: 0, at: [{ atS: 50_000, profile: 0 }] }),
      { seed: 1, horizonS: 100_000 },
    );
    expect(replay.oven?.meanCureTempC).toBeCloseTo(179, 6);
    expect(replay.oven?.scrapRate).toBeCloseTo(0.1 * p(10) + 0.9 * p(0), 2);
    // Drawn at one per 100 000 s, 1000 s each, over 10⁷ s: ≈ 1 % of the time 10 °C low.
    const drawn = simulateLine(oven({ stepS: 1000, profiles: [[-10]], ratePerS: 1e-5 }), {
      seed: 2,
      horizonS: 1e7,
    });
    expect(drawn.oven?.meanCureTempC).toBeGreaterThan(180 - 0.1 * 1.5);
    expect(drawn.oven?.meanCureTempC).toBeLessThan(180 - 0.1 * 0.6);
  });

  it('cure scrap found at a downstream inspection station travels there first', () => {
    const cfg: LineConfig = {
      ...line(
        [
          station('oven', { family: 'deterministic', value: 10 }),
          station('assembly', { family: 'deterministic', value: 12 }),
          station('test', { family: 'deterministic', value: 8 }),
        ],
        [3, 3],
      ),
      oven: ovenOf({ setpointC: 175 }, { inspectAt: 'test' }),
    };
    const r = simulateLine(cfg, { seed: 2, horizonS: 300_000 });
    const p5 = ovenScrapP(5);
    const [ov, asm, test] = r.stations;
    expect(ov?.scrap).toBe(0);
    expect(asm?.parts).toBeGreaterThan(20_000);
    expect((test?.scrap ?? 0) / (test?.parts ?? 1)).toBeCloseTo(p5, 2);
    // The bottleneck (assembly) works on parts that are scrapped later: good output is lower.
    expect(Math.abs(r.throughputPerHour / ((3600 / 12) * (1 - p5)) - 1)).toBeLessThan(0.01);
  });
});

describe('line simulation: wear failures', () => {
  it('fails when the condition level reaches its failure level, after the operating time it takes, and renews', () => {
    // ln L grows by 1e-4 per operating second from 2: it reaches 4 after ln 2 / 1e-4 = 6931 s of
    // work; a renewed part starts at 1 and reaches 4 after ln 4 / 1e-4 = 13 863 s more.
    const cfg = line(
      [
        station(
          'a',
          { family: 'deterministic', value: 10 },
          {
            wear: {
              level: 2,
              growthPerS: 1e-4,
              newLevel: 1,
              failAt: { family: 'deterministic', value: 4 },
              repair: { family: 'deterministic', value: 600 },
            },
          },
        ),
      ],
      [],
    );
    const trace: { state: string; t: number }[] = [];
    const r = simulateLine(
      cfg,
      { seed: 1, horizonS: 25_000 },
      { state: (_s, state, t) => trace.push({ state, t }) },
    );
    const downs = trace.filter((x) => x.state === 'down').map((x) => x.t);
    expect(downs).toHaveLength(2);
    expect(downs[0]).toBeCloseTo(Math.log(2) / 1e-4, 6);
    expect(downs[1]).toBeCloseTo(Math.log(2) / 1e-4 + 600 + Math.log(4) / 1e-4, 6);
    expect(r.stations[0]?.failures).toBe(2);
    // The cycle interrupted by the failure resumes: 1200 s down in total, the rest at 10 s a part.
    expect(r.stations[0]?.parts).toBe(Math.floor((25_000 - 1200) / 10));
  });

  it('a part already past its failure level fails at once, and wear leaves the random failures alone', () => {
    const base = station(
      'a',
      { family: 'deterministic', value: 10 },
      {
        failures: { basis: 'operating-time', between: exp(3000), repair: exp(100) },
      },
    );
    const worn = {
      ...base,
      wear: {
        level: 5,
        growthPerS: 1e-4,
        newLevel: 1,
        failAt: { family: 'deterministic', value: 4 } as DistributionSpec,
        repair: { family: 'deterministic', value: 50 } as DistributionSpec,
      },
    };
    const a = simulateLine(line([base], []), { seed: 3, horizonS: 10_000 });
    const b = simulateLine(line([worn], []), { seed: 3, horizonS: 10_000 });
    expect(b.stations[0]?.failures).toBe((a.stations[0]?.failures ?? 0) + 1);
    expect(b.stations[0]?.stateShares.down).toBeGreaterThan(a.stations[0]?.stateShares.down ?? 1);
  });
});
