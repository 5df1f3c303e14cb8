import { GembaError } from '@gemba/core';
import type { LineConfig } from '../line/line-config.ts';
import { distributionMean, scaleDistribution } from '../random/distributions.ts';
import { replicationSeed } from '../random/rng.ts';
import { type Estimate, pairedDifference } from '../stats/confidence.ts';
import { detectWarmup, type ExperimentOptions, type ExperimentResult, summarise } from './replications.ts';
import { runTasks } from './worker-pool.ts';

/**
 * One change to a line, parsed from `target.param=value`:
 * - station params: `speed`, `cycle` (cycle time), `mttr`, `mtbf`, `scrap`, `micro` (micro-stop probability)
 * - buffer param: `capacity`
 * - oven zone param (`oven.zone2.setpoint`): `setpoint` (°C)
 *
 * Values: `+10%` / `-10%` relative, `*0.5` (or `x0.5`) a factor, `+5` / `-5` added, `110%` or
 * `20` set. E.g. `weld.speed=+10%`, `weld-oven.capacity=20`, `oven.zone2.setpoint=-5`,
 * `press.mttr=*0.5`.
 */
export interface Change {
  text: string;
  target: string;
  param: string;
  op: 'set' | 'add' | 'mul';
  value: number;
}

/** A named set of changes. */
export interface Scenario {
  name: string;
  changes: Change[];
}

const NUM = String.raw`\d+(?:\.\d+)?(?:e[+-]?\d+)?`;

/**
 * Parses a change such as `weld.speed=+10%`.
 * @throws GembaError GEMBA_INVALID_ARGUMENT on a malformed change
 */
export function parseChange(text: string): Change {
  const m = /^([\w./-]+)\.(\w+)=(.+)$/.exec(text.trim());
  if (m === null) {
    throw new GembaError(
      'GEMBA_INVALID_ARGUMENT',
      `'${text}' is not a change (expected target.param=value, e.g. weld.speed=+10%)`,
    );
  }
  const [, target, param, raw] = m as unknown as [string, string, string, string];
  const v = raw.trim();
  const forms: [RegExp, Change['op'], (x: number) => number][] = [
    [new RegExp(`^([+-]${NUM})%$`), 'mul', (x) => 1 + x / 100],
    [new RegExp(`^[*x](${NUM})$`), 'mul', (x) => x],
    [new RegExp(`^([+-]${NUM})$`), 'add', (x) => x],
    [new RegExp(`^=?(${NUM})%$`), 'set', (x) => x / 100],
    [new RegExp(`^=?(${NUM})$`), 'set', (x) => x],
  ];
  for (const [re, op, f] of forms) {
    const r = re.exec(v);
    if (r !== null) return { text, target, param, op, value: f(Number(r[1])) };
  }
  throw new GembaError(
    'GEMBA_INVALID_ARGUMENT',
    `'${text}': cannot read the value '${v}' (use +10%, *0.5, -5 or 20)`,
  );
}

const apply = (c: Change, x: number): number =>
  c.op === 'set' ? c.value : c.op === 'add' ? x + c.value : x * c.value;

/**
 * A copy of the line with the changes applied (the input is not modified).
 * @throws GembaError GEMBA_INVALID_ARGUMENT when a target or parameter does not exist
 */
export function applyChanges(config: LineConfig, changes: readonly Change[]): LineConfig {
  const out = structuredClone(config);
  for (const c of changes) {
    const bad = (why: string): GembaError =>
      new GembaError('GEMBA_INVALID_ARGUMENT', `change '${c.text}': ${why}`);
    const zoneMatch = /^(.+)\.([\w-]+)$/.exec(c.target);
    if (out.oven !== undefined && zoneMatch !== null && zoneMatch[1] === out.oven.station) {
      const z = out.oven.zones.find((x) => x.id === zoneMatch[2]);
      if (z === undefined) throw bad(`the oven has no zone '${zoneMatch[2]}'`);
      if (c.param !== 'setpoint') throw bad(`oven zones have 'setpoint' only`);
      z.setpointC = apply(c, z.setpointC);
      continue;
    }
    const st = out.stations.find((s) => s.id === c.target);
    if (st !== undefined) {
      switch (c.param) {
        case 'speed':
          st.speed = apply(c, st.speed);
          if (!(st.speed > 0)) throw bad('speed must stay > 0');
          break;
        case 'cycle': {
          const m = distributionMean(st.cycleTime);
          st.cycleTime = scaleDistribution(st.cycleTime, apply(c, m) / m);
          break;
        }
        case 'mttr':
        case 'mtbf': {
          const f = st.failures;
          // A repair-time change applies to the wear failures' renewals too.
          const w = c.param === 'mttr' ? st.wear : undefined;
          if (f === undefined && w === undefined) throw bad(`station '${st.id}' has no failures to change`);
          const key = c.param === 'mttr' ? 'repair' : 'between';
          if (f !== undefined) {
            const m = distributionMean(f[key]);
            f[key] = scaleDistribution(f[key], apply(c, m) / m);
          }
          if (w !== undefined) {
            const m = distributionMean(w.repair);
            w.repair = scaleDistribution(w.repair, apply(c, m) / m);
          }
          break;
        }
        case 'scrap':
          st.scrapProbability = Math.min(1, Math.max(0, apply(c, st.scrapProbability)));
          if (out.oven?.station === st.id) {
            const p = Math.min(1 - 1e-12, Math.max(1e-12, st.scrapProbability));
            out.oven.scrapLogit.a = Math.log(p / (1 - p));
          }
          break;
        case 'micro': {
          const ms = st.microStops;
          if (ms === undefined) throw bad(`station '${st.id}' has no micro-stops to change`);
          ms.probability = Math.min(1, Math.max(0, apply(c, ms.probability)));
          break;
        }
        default:
          throw bad(`stations have speed, cycle, mttr, mtbf, scrap, micro; not '${c.param}'`);
      }
      continue;
    }
    const b = out.buffers.find((x) => x.id === c.target);
    if (b !== undefined) {
      if (c.param !== 'capacity') throw bad(`buffers have 'capacity' only`);
      b.capacity = Math.max(0, Math.round(apply(c, b.capacity)));
      continue;
    }
    throw bad(
      `no station, buffer or oven zone '${c.target}' (stations: ${out.stations.map((s) => s.id).join(', ')}; buffers: ${out.buffers.map((x) => x.id).join(', ')})`,
    );
  }
  return out;
}

/**
 * What a scenario asks that the model cannot answer: an oven setpoint change when the model's
 * scrap does not depend on the cure temperature (no scrap curve was calibrated, e.g. from a
 * history at a steady setpoint without disturbances) shows no change in scrap, whatever the
 * real line would do; one that moves the quality zone further from its target than the curve
 * was learnt from extrapolates it.
 */
function scenarioWarnings(base: LineConfig, changed: LineConfig, scenario: Scenario): string[] {
  const out: string[] = [];
  const oven = base.oven;
  const zoneChanged = scenario.changes.some(
    (c) => c.param === 'setpoint' && oven?.zones.some((z) => c.target === `${oven.station}.${z.id}`),
  );
  if (zoneChanged && oven !== undefined && oven.scrapLogit.b === 0)
    out.push(
      `the model's scrap does not depend on the oven's temperature (no scrap curve calibrated: the history had no temperature deviations to learn it from, see gemba sim calibrate --scrap-curve-from); this scenario cannot show a change in scrap`,
    );
  const within = oven?.scrapLogit.learntWithinC;
  const sp = changed.oven?.zones.find((z) => z.id === oven?.qualityZone)?.setpointC;
  if (zoneChanged && oven !== undefined && within !== undefined && sp !== undefined) {
    const d = Math.abs(sp - oven.targetC);
    if (d > within)
      out.push(
        `the quality zone at ${sp} °C is ${d.toFixed(1)} °C off its target, beyond the ${within.toFixed(1)} °C the scrap curve was learnt from: its scrap is extrapolated`,
      );
  }
  return out;
}

/** A scenario's outcome against the baseline. */
export interface ScenarioResult {
  name: string;
  changes: string[];
  result: ExperimentResult;
  /** scenario − baseline per replication (common random numbers), 95 % paired CI. */
  throughputDiffPerHour: Estimate;
  scrapRateDiff: Estimate;
  ovenScrapRateDiff?: Estimate;
  /** What the model cannot answer about this scenario (e.g. scrap without a scrap curve). */
  warnings: string[];
}

/** Baseline and scenarios. */
export interface WhatIfResult {
  baseline: ExperimentResult;
  scenarios: ScenarioResult[];
  wallMs: number;
}

/**
 * Compares scenarios with the baseline under common random numbers: every scenario runs the
 * same replication seeds (and each source of randomness its own stream), the baseline's
 * warm-up is used for all, and differences come with paired 95 % confidence intervals.
 *
 * @example
 * const r = await runWhatIf(cfg, [{ name: 'weld +10 %', changes: [parseChange('weld.speed=+10%')] }]);
 * @throws GembaError GEMBA_INVALID_ARGUMENT on a bad change, GEMBA_SIM_CANCELLED when aborted
 */
export async function runWhatIf(
  base: LineConfig,
  scenarios: readonly Scenario[],
  options: ExperimentOptions = {},
): Promise<WhatIfResult> {
  const t0 = performance.now();
  const reps = options.replications ?? 10;
  const horizonS = options.horizonS ?? 7 * 86_400;
  const seed = options.seed ?? 1;
  const configs = [base, ...scenarios.map((s) => applyChanges(base, s.changes))];
  const warmupS =
    options.warmupS === undefined || options.warmupS === 'auto'
      ? detectWarmup(base, horizonS, seed)
      : options.warmupS;
  const tasks = configs.flatMap((config) =>
    Array.from({ length: reps }, (_, r) => ({
      config,
      options: { seed: replicationSeed(seed, r), horizonS, warmupS },
    })),
  );
  const runs = await runTasks(tasks, options);
  const wallMs = performance.now() - t0;
  const part = (k: number) => runs.slice(k * reps, (k + 1) * reps);
  const baseline = summarise(base, part(0), { seed, wallMs });
  const out: WhatIfResult = {
    baseline,
    scenarios: scenarios.map((s, k) => {
      const r = part(k + 1);
      const res = summarise(configs[k + 1] as LineConfig, r, { seed, wallMs });
      const sr: ScenarioResult = {
        name: s.name,
        changes: s.changes.map((c) => c.text),
        result: res,
        throughputDiffPerHour: pairedDifference(
          baseline.runs.map((x) => x.throughputPerHour),
          r.map((x) => x.throughputPerHour),
        ),
        scrapRateDiff: pairedDifference(
          baseline.runs.map((x) => x.scrapRate),
          r.map((x) => x.scrapRate),
        ),
        warnings: scenarioWarnings(base, configs[k + 1] as LineConfig, s),
      };
      if (baseline.ovenScrapRate !== undefined) {
        sr.ovenScrapRateDiff = pairedDifference(
          baseline.runs.map((x) => x.oven?.scrapRate ?? 0),
          r.map((x) => x.oven?.scrapRate ?? 0),
        );
      }
      return sr;
    }),
    wallMs,
  };
  return out;
}
