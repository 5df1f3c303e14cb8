import { randomUUID } from 'node:crypto';
import { GembaError, isGembaError } from '@gemba/core';

/** Life cycle of a job. */
export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/** What a job's work function gets: a cancellation signal and a progress reporter. */
export interface JobContext {
  signal: AbortSignal;
  /** Reports progress, e.g. replications done out of total. */
  progress(done: number, total: number): void;
}

/** A job as seen from outside (e.g. returned by the HTTP API). */
export interface JobSnapshot<T = unknown> {
  id: string;
  kind: string;
  status: JobStatus;
  progress: { done: number; total: number; fraction: number };
  createdMs: number;
  startedMs?: number;
  finishedMs?: number;
  result?: T;
  error?: { code: string; message: string };
}

interface JobRecord {
  snap: JobSnapshot;
  work: (ctx: JobContext) => Promise<unknown>;
  ac: AbortController;
  listeners: Set<(s: JobSnapshot) => void>;
  done: Promise<JobSnapshot>;
  resolve: (s: JobSnapshot) => void;
}

/** Options of a {@link SimJobRunner}. */
export interface JobRunnerOptions {
  /** Jobs running at once (default 1: simulations use all workers themselves). */
  concurrency?: number;
  /** Finished jobs kept for lookup (default 100; the oldest finished are dropped first). */
  keepFinished?: number;
  /** Wall clock for the time stamps (default `Date.now`). */
  nowMs?: () => number;
}

/**
 * Runs simulation jobs asynchronously for an API: `submit` returns at once with a job id;
 * clients poll `get` or `subscribe` to progress; `cancel` aborts (the work sees its signal and
 * rejects with GEMBA_SIM_CANCELLED). Jobs beyond `concurrency` wait in a FIFO queue.
 *
 * @example
 * const jobs = new SimJobRunner();
 * const { id } = jobs.submit('whatif', ({ signal, progress }) =>
 *   runWhatIf(cfg, scenarios, { signal, onProgress: progress }));
 * const snap = await jobs.wait(id);
 */
export class SimJobRunner {
  readonly #jobs = new Map<string, JobRecord>();
  readonly #queue: JobRecord[] = [];
  #running = 0;
  readonly #concurrency: number;
  readonly #keep: number;
  readonly #now: () => number;

  constructor(options: JobRunnerOptions = {}) {
    this.#concurrency = Math.max(1, options.concurrency ?? 1);
    this.#keep = options.keepFinished ?? 100;
    this.#now = options.nowMs ?? Date.now;
  }

  /** Queues a job; returns its snapshot (status `queued`; it starts on the next microtask). */
  submit<T>(kind: string, work: (ctx: JobContext) => Promise<T>): JobSnapshot<T> {
    let resolve!: (s: JobSnapshot) => void;
    const done = new Promise<JobSnapshot>((r) => {
      resolve = r;
    });
    const rec: JobRecord = {
      snap: {
        id: randomUUID(),
        kind,
        status: 'queued',
        progress: { done: 0, total: 0, fraction: 0 },
        createdMs: this.#now(),
      },
      work,
      ac: new AbortController(),
      listeners: new Set(),
      done,
      resolve,
    };
    this.#jobs.set(rec.snap.id, rec);
    this.#queue.push(rec);
    // Start on a microtask so a caller can subscribe before the first progress report.
    queueMicrotask(() => this.#pump());
    return this.get(rec.snap.id) as JobSnapshot<T>;
  }

  /** A copy of the job's current state, or undefined for an unknown id. */
  get(id: string): JobSnapshot | undefined {
    const r = this.#jobs.get(id);
    return r === undefined ? undefined : { ...r.snap, progress: { ...r.snap.progress } };
  }

  /** Every known job, newest first. */
  list(): JobSnapshot[] {
    return [...this.#jobs.keys()].reverse().map((id) => this.get(id) as JobSnapshot);
  }

  /**
   * Cancels a queued or running job; false when unknown or already finished.
   */
  cancel(id: string): boolean {
    const r = this.#jobs.get(id);
    if (r === undefined || isFinished(r.snap.status)) return false;
    r.ac.abort();
    if (r.snap.status === 'queued') {
      this.#queue.splice(this.#queue.indexOf(r), 1);
      this.#finish(r, 'cancelled', undefined, new GembaError('GEMBA_SIM_CANCELLED', `job ${id} cancelled`));
    }
    return true;
  }

  /**
   * Resolves when the job has finished (whatever the outcome).
   * @throws GembaError GEMBA_API_NOT_FOUND for an unknown id
   */
  async wait(id: string): Promise<JobSnapshot> {
    const r = this.#jobs.get(id);
    if (r === undefined) throw new GembaError('GEMBA_API_NOT_FOUND', `no simulation job ${id}`);
    return await r.done;
  }

  /** Calls `fn` on every progress or status change of the job; returns an unsubscribe function. */
  subscribe(id: string, fn: (s: JobSnapshot) => void): () => void {
    const r = this.#jobs.get(id);
    if (r === undefined) return () => {};
    r.listeners.add(fn);
    return () => r.listeners.delete(fn);
  }

  /** Cancels everything and waits for running jobs to settle. */
  async close(): Promise<void> {
    const all = [...this.#jobs.values()];
    for (const r of all) this.cancel(r.snap.id);
    await Promise.all(all.map((r) => r.done));
  }

  #emit(r: JobRecord): void {
    const s = this.get(r.snap.id) as JobSnapshot;
    for (const l of r.listeners) l(s);
  }

  #pump(): void {
    while (this.#running < this.#concurrency && this.#queue.length > 0) {
      const r = this.#queue.shift() as JobRecord;
      this.#running++;
      r.snap.status = 'running';
      r.snap.startedMs = this.#now();
      this.#emit(r);
      const ctx: JobContext = {
        signal: r.ac.signal,
        progress: (done, total) => {
          r.snap.progress = { done, total, fraction: total > 0 ? done / total : 0 };
          this.#emit(r);
        },
      };
      r.work(ctx).then(
        (result) => this.#finish(r, r.ac.signal.aborted ? 'cancelled' : 'succeeded', result, undefined),
        (err: unknown) =>
          this.#finish(
            r,
            r.ac.signal.aborted || isGembaError(err, 'GEMBA_SIM_CANCELLED') ? 'cancelled' : 'failed',
            undefined,
            err,
          ),
      );
    }
  }

  #finish(r: JobRecord, status: JobStatus, result: unknown, err: unknown): void {
    if (r.snap.status === 'running') this.#running--;
    r.snap.status = status;
    r.snap.finishedMs = this.#now();
    if (status === 'succeeded') r.snap.result = result;
    if (err !== undefined) {
      r.snap.error = isGembaError(err)
        ? { code: err.code, message: err.message }
        : { code: 'GEMBA_INTERNAL', message: err instanceof Error ? err.message : String(err) };
    }
    this.#emit(r);
    r.resolve(this.get(r.snap.id) as JobSnapshot);
    this.#prune();
    this.#pump();
  }

  #prune(): void {
    const finished = [...this.#jobs.values()].filter((x) => isFinished(x.snap.status));
    for (let i = 0; i < finished.length - this.#keep; i++)
      this.#jobs.delete((finished[i] as JobRecord).snap.id);
  }
}

function isFinished(s: JobStatus): boolean {
  return s === 'succeeded' || s === 'failed' || s === 'cancelled';
}
