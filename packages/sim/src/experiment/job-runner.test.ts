import { describe, expect, it } from 'vitest';
import type { LineConfig } from '../line/line-config.ts';
import { SimJobRunner } from './job-runner.ts';
import { runReplications } from './replications.ts';

const cfg: LineConfig = {
  line: 'test/line',
  stations: [
    { id: 'a', cycleTime: { family: 'exponential', mean: 10 }, speed: 1, scrapProbability: 0 },
    { id: 'b', cycleTime: { family: 'exponential', mean: 11 }, speed: 1, scrapProbability: 0 },
  ],
  buffers: [{ id: 'ab', capacity: 3 }],
  plannedStops: [],
};

describe('SimJobRunner', () => {
  it('runs a replication job with progress and a result', async () => {
    const jobs = new SimJobRunner();
    const seen: number[] = [];
    const snap = jobs.submit('run', ({ signal, progress }) =>
      runReplications(cfg, {
        replications: 4,
        horizonS: 50_000,
        warmupS: 1000,
        workers: 0,
        signal,
        onProgress: progress,
      }),
    );
    jobs.subscribe(snap.id, (s) => seen.push(s.progress.done));
    const done = await jobs.wait(snap.id);
    expect(done.status).toBe('succeeded');
    expect(done.progress).toEqual({ done: 4, total: 4, fraction: 1 });
    expect((done.result as { throughputPerHour: { n: number } }).throughputPerHour.n).toBe(4);
    expect(seen).toContain(2);
    await jobs.close();
  });

  it('cancels a running job and a queued one', async () => {
    const jobs = new SimJobRunner({ concurrency: 1 });
    const a = jobs.submit('run', ({ signal, progress }) =>
      runReplications(cfg, {
        replications: 200,
        horizonS: 500_000,
        warmupS: 0,
        workers: 0,
        signal,
        onProgress: progress,
      }),
    );
    const b = jobs.submit('run', async () => 42);
    expect(jobs.get(b.id)?.status).toBe('queued');
    jobs.subscribe(a.id, (s) => {
      if (s.progress.done >= 1) jobs.cancel(a.id);
    });
    expect(jobs.cancel(b.id)).toBe(true);
    const da = await jobs.wait(a.id);
    expect(da.status).toBe('cancelled');
    expect(da.error?.code).toBe('GEMBA_SIM_CANCELLED');
    expect((await jobs.wait(b.id)).status).toBe('cancelled');
    expect(jobs.cancel(a.id)).toBe(false);
  });

  it('reports failures with their code', async () => {
    const jobs = new SimJobRunner();
    const s = jobs.submit('bad', () => runReplications({ ...cfg, buffers: [] }, { workers: 0 }));
    const d = await jobs.wait(s.id);
    expect(d.status).toBe('failed');
    expect(d.error?.code).toBe('GEMBA_INVALID_ARGUMENT');
  });
});
