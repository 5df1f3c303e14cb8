import { randomUUID } from 'node:crypto';
import type { Historian } from '@gemba/core';
import { type Clock, GembaError, type Logger, type Model } from '@gemba/core';
import {
  buildLineModel,
  type Change,
  calibrate,
  type ExperimentResult,
  type LineParameters,
  runWhatIf,
  type Estimate as SimEstimate,
} from '@gemba/sim';
import type {
  Actor,
  Estimate,
  ScenarioResult,
  SimJob,
  SimPort,
  WhatIfChange,
  WhatIfRequest,
  WhatIfResult,
} from './runtime.ts';

/** Calibrated line parameters and how well they reproduce recent history. */
export interface Calibration {
  parameters: LineParameters;
  quality?: { fromMs: number; toMs: number; throughputErrorPct: number; note?: string };
}

/** Options of {@link SimJobs}. */
export interface SimJobsOptions {
  model: Model;
  clock: Clock;
  logger: Logger;
  /** The calibration to simulate from (per line); the model's ideal cycle times when absent. */
  calibrate?: (line: string) => Promise<Calibration> | Calibration;
  /** Worker threads per job (0 = in this thread; default: the sim's default). */
  workers?: number;
  /** Finished jobs kept for `list()`. Default 50. */
  keep?: number;
}

const est = (e: SimEstimate): Estimate => ({ mean: e.mean, lo: e.low, hi: e.high });

/**
 * What-if jobs on the simulation: one job at a time (the others queue), each a replicated
 * experiment of the calibrated line against scenarios of changes, with progress and cancel.
 */
export class SimJobs implements SimPort {
  readonly #opts: SimJobsOptions;
  readonly #jobs = new Map<string, SimJob>();
  readonly #aborts = new Map<string, AbortController>();
  #chain: Promise<void> = Promise.resolve();

  constructor(options: SimJobsOptions) {
    this.#opts = options;
  }

  start(request: WhatIfRequest, by: Actor): SimJob {
    const job: SimJob = {
      id: randomUUID(),
      status: 'queued',
      progress: 0,
      createdAt: this.#opts.clock.now(),
      createdBy: by.name,
      request,
    };
    this.#jobs.set(job.id, job);
    const abort = new AbortController();
    this.#aborts.set(job.id, abort);
    this.#chain = this.#chain.then(() => this.#run(job, abort.signal));
    this.#prune();
    return { ...job };
  }

  get(id: string): SimJob | undefined {
    const j = this.#jobs.get(id);
    return j === undefined ? undefined : { ...j };
  }

  list(): SimJob[] {
    return [...this.#jobs.values()].map((j) => ({ ...j })).sort((a, b) => b.createdAt - a.createdAt);
  }

  cancel(id: string): SimJob | undefined {
    const j = this.#jobs.get(id);
    if (j === undefined) return undefined;
    if (j.status === 'queued' || j.status === 'running') {
      this.#aborts.get(id)?.abort();
      j.status = 'cancelled';
    }
    return { ...j };
  }

  /** Resolves when every queued job has finished. */
  async idle(): Promise<void> {
    await this.#chain;
  }

  async #run(job: SimJob, signal: AbortSignal): Promise<void> {
    if (job.status === 'cancelled') return;
    job.status = 'running';
    const { model, clock } = this.#opts;
    try {
      const cal =
        this.#opts.calibrate === undefined ? undefined : await this.#opts.calibrate(job.request.line);
      const base = buildLineModel(model, cal?.parameters ?? {}, {
        line: job.request.line,
        startMs: clock.now(),
      });
      const scenarios = job.request.scenarios.map((s) => ({
        name: s.name,
        changes: s.changes.map((c) => toSimChange(model, job.request.line, c)),
      }));
      const total = (scenarios.length + 1) * job.request.replications;
      const r = await runWhatIf(base, scenarios, {
        replications: job.request.replications,
        horizonS: job.request.horizonH * 3600,
        signal,
        ...(this.#opts.workers === undefined ? {} : { workers: this.#opts.workers }),
        onProgress: (done) => {
          job.progress = Math.min(0.99, done / total);
        },
      });
      const linePath = job.request.line;
      const result: WhatIfResult = {
        baseline: scenarioFrom('baseline', r.baseline, linePath),
        scenarios: r.scenarios.map((s) => ({
          ...scenarioFrom(s.name, s.result, linePath),
          throughputDiffPerHour: est(s.throughputDiffPerHour),
          warnings: s.warnings,
        })),
        calibration: cal?.quality ?? {
          fromMs: 0,
          toMs: 0,
          throughputErrorPct: Number.NaN,
          note: 'not calibrated: the line runs its products’ ideal cycle times without failures or scrap',
        },
      };
      job.result = result;
      job.progress = 1;
      job.status = 'done';
    } catch (err: unknown) {
      if (signal.aborted) {
        job.status = 'cancelled';
        return;
      }
      job.status = 'failed';
      job.error = err instanceof Error ? err.message : String(err);
      this.#opts.logger.warn({ err, job: job.id }, 'what-if job failed');
    } finally {
      this.#aborts.delete(job.id);
    }
  }

  #prune(): void {
    const keep = this.#opts.keep ?? 50;
    const done = [...this.#jobs.values()].filter((j) => j.status !== 'queued' && j.status !== 'running');
    for (const j of done
      .sort((a, b) => a.createdAt - b.createdAt)
      .slice(0, Math.max(0, done.length - keep))) {
      this.#jobs.delete(j.id);
    }
  }
}

function scenarioFrom(name: string, r: ExperimentResult, linePath: string): ScenarioResult {
  const votes = r.bottleneckVotes[r.bottleneck] ?? 0;
  const out: ScenarioResult = {
    name,
    throughputPerHour: est(r.throughputPerHour),
    scrapRate: est(r.scrapRate),
    bottleneck: {
      station: `${linePath}/${r.bottleneck}`,
      share: r.replications > 0 ? votes / r.replications : 0,
    },
  };
  return out;
}

/**
 * The simulation's change for an API change.
 * @throws GembaError GEMBA_API_INVALID_INPUT when the target is not on the line.
 */
export function toSimChange(model: Model, line: string, c: WhatIfChange): Change {
  const info = model.line(line);
  const bad = (why: string) => new GembaError('GEMBA_API_INVALID_INPUT', `change of '${c.target}': ${why}`);
  if (info === undefined) throw bad(`'${line}' is not a line`);
  const station = info.stations.find((s) => s.path === c.target);
  const buffer = info.buffers.find((b) => b.path === c.target);
  const text = `${c.target.slice(line.length + 1)}.${c.parameter}=${c.value}`;
  switch (c.parameter) {
    case 'cycleTimeFactor':
    case 'mtbfFactor':
    case 'mttrFactor': {
      if (station === undefined) throw bad('not a station of the line');
      if (!(c.value > 0)) throw bad('a factor must be > 0');
      const param =
        c.parameter === 'cycleTimeFactor' ? 'cycle' : c.parameter === 'mtbfFactor' ? 'mtbf' : 'mttr';
      return { text, target: station.id, param, op: 'mul', value: c.value };
    }
    case 'bufferCapacity':
      if (buffer === undefined) throw bad('not a buffer of the line');
      return { text, target: buffer.id, param: 'capacity', op: 'set', value: c.value };
    case 'setpoint': {
      const sig = model.signal(c.target);
      if (sig === undefined || sig.line !== line || sig.def.role !== 'setpoint')
        throw bad('not a setpoint of the line');
      // `acme/.../oven/zone2/setpoint` → the sim's `oven.zone2` setpoint.
      const rel = sig.asset
        .slice(line.length + 1)
        .split('/')
        .join('.');
      return { text, target: rel, param: 'setpoint', op: 'set', value: c.value };
    }
  }
}

/** Options of {@link historianCalibration}. */
export interface HistorianCalibrationOptions {
  historian: Historian;
  model: Model;
  clock: Clock;
  logger: Logger;
  /** How much recent history to calibrate from, ms. Default 8 h. */
  windowMs?: number;
  /** Replications of the validation run. Default 5. */
  validationReplications?: number;
}

/**
 * A `calibrate` function for {@link SimJobs}: fits the line's parameters to the historian's
 * recent data (`@gemba/sim`'s `calibrate`) and reports how well the calibrated model reproduces
 * the observed throughput. Without usable history it falls back to the model's ideal cycle
 * times and says so.
 */
export function historianCalibration(
  options: HistorianCalibrationOptions,
): (line: string) => Promise<Calibration> {
  return async (line) => {
    const toMs = options.clock.now();
    const fromMs = toMs - (options.windowMs ?? 8 * 3_600_000);
    try {
      const report = await calibrate(
        options.historian,
        options.model,
        { fromMs, toMs },
        {
          line,
          validate: { replications: options.validationReplications ?? 5 },
        },
      );
      const tp = report.validation?.rows.find((r) => r.metric.startsWith('throughput'));
      const note = report.warnings.length > 0 ? report.warnings.slice(0, 3).join('; ') : undefined;
      // (the window calibration really used: it starts at the history's first state event)
      const quality: NonNullable<Calibration['quality']> = {
        fromMs: report.window.fromMs,
        toMs: report.window.toMs,
        throughputErrorPct: tp === undefined ? Number.NaN : tp.relativeError * 100,
      };
      if (note !== undefined) quality.note = note;
      return { parameters: report.parameters, quality };
    } catch (err: unknown) {
      options.logger.info({ err, line }, 'calibration not possible; simulating the uncalibrated line');
      return {
        parameters: {},
        quality: {
          fromMs,
          toMs,
          throughputErrorPct: Number.NaN,
          note: `not calibrated (${err instanceof Error ? err.message : String(err)}): the line runs its products’ ideal cycle times without failures or scrap`,
        },
      };
    }
  };
}
