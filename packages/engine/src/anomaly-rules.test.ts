// Western Electric run rules (Montgomery, Introduction to Statistical Quality Control, §5.3.6)
// on the minute means, with a baseline whose μ0 and σ are known exactly.
import { describe, expect, it } from 'vitest';
import { AnomalyDetectors, DEFAULT_ANOMALY_PARAMS } from './anomaly.ts';

const BASELINE_MIN = 20;
const MU = 10;
// Baseline minute means 9, 11, 9, 11, … (20 of them): mean 10, sample σ = √(20 / 19).
const SIGMA = Math.sqrt(20 / 19);

/**
 * Feeds one sample per minute (so each minute's mean is that sample): the baseline, then the
 * given z-scores. Returns the run-rule events as [index into zs, detail]. A minute's mean is
 * taken in when the next minute's first sample arrives, so one more sample follows the last z.
 */
function runRules(zs: readonly number[]): Array<[number, string]> {
  const events: Array<[number, string]> = [];
  const values = [
    ...Array.from({ length: BASELINE_MIN }, (_, i) => (i % 2 === 0 ? MU - 1 : MU + 1)),
    ...zs.map((z) => MU + z * SIGMA),
    MU,
  ];
  const d = new AnomalyDetectors(
    [{}],
    { ...DEFAULT_ANOMALY_PARAMS, baselineSamples: 5, spcBaselineMinutes: BASELINE_MIN },
    (_idx, kind, detail, ts) => {
      // The minute's mean is reported at the next minute's sample.
      if (kind === 'run-rule') events.push([ts / 60_000 - 1 - BASELINE_MIN, detail]);
    },
  );
  const ts = new Float64Array(1);
  const vs = new Float64Array(1);
  values.forEach((v, i) => {
    ts[0] = i * 60_000;
    vs[0] = v;
    d.add(0, ts, vs);
  });
  return events;
}

describe('Western Electric run rules', () => {
  it('stay quiet at the centre line and within the zones', () => {
    expect(runRules([0, 0.5, -0.5, 1.5, -1.5, 2.5, 0, -2.5, 0, 1.5, 1.5, 1.5, 0, 0.5, 0.5, 0.5])).toEqual([]);
  });

  it('rule 1: one point beyond 3 σ', () => {
    expect(runRules([0, 0, 3.2])).toEqual([[2, 'Western Electric rule 1']]);
    expect(runRules([0, -3.2])).toEqual([[1, 'Western Electric rule 1']]);
    expect(runRules([0, 2.9])).toEqual([]);
  });

  it('rule 2: two of three successive points beyond 2 σ on one side', () => {
    expect(runRules([0, 2.5, 0, 2.5])).toEqual([[3, 'Western Electric rule 2']]);
    expect(runRules([-2.5, -2.5])).toEqual([[1, 'Western Electric rule 2']]);
    // Two of four, or on opposite sides: not the rule.
    expect(runRules([2.5, 0, 0, 2.5])).toEqual([]);
    expect(runRules([2.5, -2.5, 0])).toEqual([]);
  });

  it('rule 3: four of five successive points beyond 1 σ on one side', () => {
    expect(runRules([1.5, 1.5, 0, 1.5, 1.5])).toEqual([[4, 'Western Electric rule 3']]);
    expect(runRules([-1.5, -1.5, -1.5, -1.5])).toEqual([[3, 'Western Electric rule 3']]);
    expect(runRules([1.5, 1.5, 0, 1.5, 0, 1.5])).toEqual([]);
  });

  it('rule 4: eight successive points on one side of the centre line', () => {
    expect(runRules([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5])).toEqual([[7, 'Western Electric rule 4']]);
    expect(runRules([-0.3, -0.3, -0.3, -0.3, -0.3, -0.3, -0.3, -0.3, -0.3])).toEqual([
      [7, 'Western Electric rule 4'],
    ]);
    // Seven, a point on the centre line, seven: not the rule.
    expect(runRules([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5])).toEqual([]);
  });

  it('fire once per episode and not again within the hold-off', () => {
    // Rule 1 at 1, back in control at 2, rule 1 again at 5 (5 min < the 10 min hold-off) and at
    // 13 (12 min after the first).
    const zs = [0, 3.5, 0, 0, 0, 3.5, 0, 0, 0, 0, 0, 0, 0, 3.5];
    expect(runRules(zs)).toEqual([
      [1, 'Western Electric rule 1'],
      [13, 'Western Electric rule 1'],
    ]);
  });
});
