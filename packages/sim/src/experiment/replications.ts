import type { LineConfig } from '../line/line-config.ts';
import { type RunResult, SIM_STATES, type SimState, simulateLine } from '../line/line-sim.ts';
import { replicationSeed } from '../random/rng.ts';
import { type Estimate, estimate } from '../stats/confidence.ts';
import { mser5 } from '../stats/mser.ts';
import { type PoolOptions, runTasks } from './worker-pool.ts';

/** Options of a replicated experiment. */
export interface ExperimentOptions extends PoolOptions {
  /** Independent replications (default 10). */
  replications?: number;
  /** Simulated seconds per replication, warm-up included (default 7 days). */
  horizonS?: number;
  /** Warm-up seconds, or 'auto' for MSER-5 on pilot runs (default 'auto'). */
  warmupS?: number | 'auto';
  /** Base seed; replication r uses `replicationSeed(seed, r)` (default 1). */
  seed?: number;
}

/** Per-station estimates over replications. */
export interface StationEstimate {
  id: string;
  stateShares: Record<SimState, Estimate>;
  meanActivePeriodS: Estimate;
  /** Parts per hour leaving the station good. */
  goodPerHour: Estimate;
  scrapRate: Estimate;
}

/** What a replicated experiment found: means with 95 % confidence intervals. */
export interface ExperimentResult {
  line: string;
  replications: number;
  horizonS: number;
  warmupS: number;
  seed: number;
  throughputPerHour: Estimate;
  scrapRate: Estimate;
  /** Oven scrap rate (when the line has an oven model). */
  ovenScrapRate?: Estimate;
  stations: StationEstimate[];
  buffers: { id: string; capacity: number; meanLevel: Estimate; meanSojournS: Estimate }[];
  /** The bottleneck: the station most often having the longest mean active period. */
  bottleneck: string;
  /** How many replications named each station the bottleneck. */
  bottleneckVotes: Record<string, number>;
  /** Kernel events over all replications. */
  events: number;
  wallMs: number;
  /** The raw per-replication results (for paired comparisons). */
  runs: RunResult[];
}

/**
 * Warm-up by MSER-5 on the mean good-output series of a few short pilot runs (in this thread).
 * Returns simulated seconds to discard.
 */
export function detectWarmup(config: LineConfig, horizonS: number, seed = 1, pilots = 3): number {
  const intervalS = Math.max(60, horizonS / 400);
  let mean: number[] = [];
  for (let p = 0; p < pilots; p++) {
    const r = simulateLine(config, {
      seed: replicationSeed(seed ^ 0x5eed, p),
      horizonS,
      seriesIntervalS: intervalS,
    });
    const s = r.series.good;
    if (mean.length === 0) mean = s.map(() => 0);
    for (let i = 0; i < s.length; i++) mean[i] = (mean[i] as number) + (s[i] as number) / pilots;
  }
  // The last bucket may be partial; leave it out.
  return mser5(mean.slice(0, -1)) * intervalS;
}

/** Summarises replications into estimates. */
export function summarise(
  config: LineConfig,
  runs: RunResult[],
  meta: { seed: number; wallMs: number },
): ExperimentResult {
  const first = runs[0] as RunResult;
  const votes: Record<string, number> = {};
  for (const r of runs) votes[r.bottleneck] = (votes[r.bottleneck] ?? 0) + 1;
  let bottleneck = first.bottleneck;
  for (const [id, v] of Object.entries(votes)) if (v > (votes[bottleneck] ?? 0)) bottleneck = id;
  const stations: StationEstimate[] = config.stations.map((s, i) => {
    const shares = {} as Record<SimState, Estimate>;
    for (const st of SIM_STATES) shares[st] = estimate(runs.map((r) => r.stations[i]?.stateShares[st] ?? 0));
    return {
      id: s.id,
      stateShares: shares,
      meanActivePeriodS: estimate(runs.map((r) => r.stations[i]?.meanActivePeriodS ?? 0)),
      goodPerHour: estimate(runs.map((r) => ((r.stations[i]?.good ?? 0) / r.measuredS) * 3600)),
      scrapRate: estimate(
        runs.map((r) => {
          const x = r.stations[i];
          return x !== undefined && x.parts > 0 ? x.scrap / x.parts : 0;
        }),
      ),
    };
  });
  const out: ExperimentResult = {
    line: config.line,
    replications: runs.length,
    horizonS: first.horizonS,
    warmupS: first.warmupS,
    seed: meta.seed,
    throughputPerHour: estimate(runs.map((r) => r.throughputPerHour)),
    scrapRate: estimate(runs.map((r) => r.scrapRate)),
    stations,
    buffers: config.buffers.map((b, i) => ({
      id: b.id,
      capacity: b.capacity,
      meanLevel: estimate(runs.map((r) => r.buffers[i]?.meanLevel ?? 0)),
      meanSojournS: estimate(runs.map((r) => r.buffers[i]?.meanSojournS ?? 0)),
    })),
    bottleneck,
    bottleneckVotes: votes,
    events: runs.reduce((a, r) => a + r.events, 0),
    wallMs: meta.wallMs,
    runs,
  };
  if (first.oven !== undefined) out.ovenScrapRate = estimate(runs.map((r) => r.oven?.scrapRate ?? 0));
  return out;
}

/**
 * Runs `replications` independent replications of the line (in parallel on worker threads),
 * after detecting the warm-up by MSER-5 unless given, and returns means with 95 % confidence
 * intervals, the bottleneck and the per-replication results.
 *
 * @example
 * const res = await runReplications(buildLineModel(model, params), { replications: 20, horizonS: 7 * 86400 });
 * console.log(res.throughputPerHour.mean, '±', res.throughputPerHour.halfWidth);
 * @throws GembaError GEMBA_SIM_CANCELLED when `signal` aborts
 */
export async function runReplications(
  config: LineConfig,
  options: ExperimentOptions = {},
): Promise<ExperimentResult> {
  const t0 = performance.now();
  const reps = options.replications ?? 10;
  const horizonS = options.horizonS ?? 7 * 86_400;
  const seed = options.seed ?? 1;
  const warmupS =
    options.warmupS === undefined || options.warmupS === 'auto'
      ? detectWarmup(config, horizonS, seed)
      : options.warmupS;
  const tasks = Array.from({ length: reps }, (_, r) => ({
    config,
    options: { seed: replicationSeed(seed, r), horizonS, warmupS },
  }));
  const runs = await runTasks(tasks, options);
  return summarise(config, runs, { seed, wallMs: performance.now() - t0 });
}
