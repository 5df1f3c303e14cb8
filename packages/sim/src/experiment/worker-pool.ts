import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { GembaError } from '@gemba/core';
import type { LineConfig } from '../line/line-config.ts';
import { type RunOptions, type RunResult, simulateLine } from '../line/line-sim.ts';

/** One simulation run to do. */
export interface RunTask {
  config: LineConfig;
  options: RunOptions;
}

/** How runs are spread. */
export interface PoolOptions {
  /** Worker threads; 0 runs in this thread (default: cores − 1, at most the number of runs). */
  workers?: number;
  /** Called after each finished run with (done, total). */
  onProgress?: (done: number, total: number) => void;
  /** Aborts the runs (rejects with GEMBA_SIM_CANCELLED and terminates the workers). */
  signal?: AbortSignal;
}

function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

function cancelled(): GembaError {
  return new GembaError('GEMBA_SIM_CANCELLED', 'simulation runs cancelled');
}

/** Default worker count: one per core but one, at least 1, at most `runs`. */
export function defaultWorkers(runs: number): number {
  return Math.max(1, Math.min(runs, availableParallelism() - 1));
}

/**
 * Runs independent simulation runs, in parallel on worker threads (each worker takes the next
 * run when it finishes one, so uneven runs balance), and returns the results in task order.
 * Each run is deterministic given its seed, so the results do not depend on the worker count.
 *
 * @throws GembaError GEMBA_SIM_CANCELLED when `signal` aborts; errors of a run are rethrown
 */
export async function runTasks(tasks: readonly RunTask[], options: PoolOptions = {}): Promise<RunResult[]> {
  const total = tasks.length;
  const results = new Array<RunResult>(total);
  const nWorkers = Math.min(options.workers ?? defaultWorkers(total), total);
  const signal = options.signal;
  if (signal?.aborted === true) throw cancelled();
  if (nWorkers <= 0) {
    for (let i = 0; i < total; i++) {
      const t = tasks[i] as RunTask;
      results[i] = simulateLine(t.config, t.options);
      options.onProgress?.(i + 1, total);
      // Yield to the event loop between runs so progress and cancellation get through.
      await new Promise<void>((r) => setImmediate(r));
      if (isAborted(signal)) throw cancelled();
    }
    return results;
  }
  // The .mjs entry registers tsx inside the worker (Node 20 does not pass loader hooks on).
  const entry = new URL('./replication-worker.mjs', import.meta.url);
  const workers: Worker[] = [];
  let next = 0;
  let done = 0;
  return await new Promise<RunResult[]>((resolve, reject) => {
    let finished = false;
    const finish = (err?: unknown): void => {
      if (finished) return;
      finished = true;
      signal?.removeEventListener('abort', onAbort);
      for (const w of workers) void w.terminate();
      if (err === undefined) resolve(results);
      else reject(err);
    };
    const onAbort = (): void => finish(cancelled());
    signal?.addEventListener('abort', onAbort);
    const feed = (w: Worker): void => {
      if (next >= total) return;
      const i = next++;
      w.postMessage({ index: i, task: tasks[i] });
    };
    for (let k = 0; k < nWorkers; k++) {
      const w = new Worker(entry);
      workers.push(w);
      w.on(
        'message',
        (msg: { index: number; result?: RunResult; error?: { message: string; code?: string } }) => {
          if (msg.error !== undefined) {
            finish(
              new GembaError('GEMBA_INTERNAL', `simulation run ${msg.index} failed: ${msg.error.message}`),
            );
            return;
          }
          results[msg.index] = msg.result as RunResult;
          done++;
          options.onProgress?.(done, total);
          if (done === total) finish();
          else feed(w);
        },
      );
      w.on('error', (err) =>
        finish(new GembaError('GEMBA_INTERNAL', `simulation worker failed: ${String(err)}`, { cause: err })),
      );
      feed(w);
    }
  });
}
