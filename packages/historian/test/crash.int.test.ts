import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { HISTORIAN_T0 } from '@gemba/core/testing';
import { describe, expect, it } from 'vitest';
import { openEmbeddedHistorian } from '../src/embedded-historian.ts';
import { CRASH_BATCHES, CRASH_SIGNALS, CRASH_STEPS, crashSignal } from './fixtures/crash-data.ts';

const CHILD = fileURLToPath(new URL('./fixtures/crash-child.ts', import.meta.url));

interface Child {
  acked: Set<number>;
  /** Resolves once `n` batches are acknowledged, or with 'done' when the child finished. */
  waitAcked(n: number, timeoutMs: number): Promise<void>;
  exited: Promise<number | null>;
  kill(): void;
}

function startChild(dir: string, from: number): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, String(from)], {
    stdio: ['ignore', 'inherit', 'inherit', 'pipe'],
  });
  const acked = new Set<number>();
  let done = false;
  const waiters: (() => void)[] = [];
  createInterface({ input: child.stdio[3] as Readable }).on('line', (l) => {
    if (l === 'done') done = true;
    else acked.add(Number(l));
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    acked,
    exited,
    kill: () => child.kill('SIGKILL'),
    waitAcked: async (n, timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      while (acked.size < n && !done) {
        if (Date.now() > deadline) throw new Error(`child acknowledged only ${acked.size} batches`);
        await Promise.race([new Promise<void>((r) => waiters.push(r)), exited.then(() => undefined)]);
        if (child.exitCode !== null && !done) throw new Error(`child exited with ${child.exitCode}`);
      }
    },
  };
}

describe('embedded historian: kill -9 of the writer process during ingest', () => {
  it('holds every acknowledged sample exactly once after a restart, and opens without repair', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gemba-crash-'));
    try {
      const first = startChild(dir, 0);
      await first.waitAcked(60, 60_000);
      first.kill();
      await first.exited;
      const acked = [...first.acked].sort((a, b) => a - b);
      expect(acked.length).toBeGreaterThanOrEqual(60);
      expect(acked.length).toBeLessThan(CRASH_BATCHES); // killed mid-stream
      // Acknowledgements are in order: the acknowledged batches are a prefix of the stream.
      expect(acked).toEqual([...Array(acked.length).keys()]);

      // The store opens as is; everything acknowledged is there.
      const h1 = await openEmbeddedHistorian({ dir });
      const lastAckedTs = HISTORIAN_T0 + (acked.length * CRASH_STEPS - 1) * 10;
      for (const i of [0, 37, CRASH_SIGNALS - 1]) {
        const rows = await h1.queryRaw(crashSignal(i), { fromMs: HISTORIAN_T0, toMs: lastAckedTs + 1 });
        expect(rows.length).toBe(acked.length * CRASH_STEPS);
        expect(rows.every((r, step) => r.value === step * 1000 + i)).toBe(true);
      }
      await h1.close();

      // The producer resends from the first unacknowledged batch; the restarted writer finishes.
      const second = startChild(dir, acked.length);
      await second.waitAcked(CRASH_BATCHES, 120_000);
      expect(await second.exited).toBe(0);

      const h2 = await openEmbeddedHistorian({ dir });
      const all = { fromMs: HISTORIAN_T0, toMs: HISTORIAN_T0 + CRASH_BATCHES * CRASH_STEPS * 10 };
      const signals = [...Array(CRASH_SIGNALS).keys()].map(crashSignal);
      const counts = await h2.queryBuckets(signals, all, 3_600_000);
      expect(counts.map((r) => r.count)).toEqual(Array(CRASH_SIGNALS).fill(CRASH_BATCHES * CRASH_STEPS));
      const one = await h2.queryRaw(crashSignal(5), all);
      expect(one.map((r) => r.value)).toEqual(
        [...Array(CRASH_BATCHES * CRASH_STEPS).keys()].map((s) => s * 1000 + 5),
      );
      await h2.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
