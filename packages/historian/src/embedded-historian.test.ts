import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SampleBatch, SampleBatchBuilder } from '@gemba/core';
import { HISTORIAN_T0, historianContractSuite } from '@gemba/core/testing';
import { describe, expect, it } from 'vitest';
import { openEmbeddedHistorian } from './embedded-historian.ts';

historianContractSuite('embedded (DuckDB)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gemba-hist-'));
  let historian = await openEmbeddedHistorian({ dir });
  return {
    historian,
    reopen: async () => {
      await historian.close();
      historian = await openEmbeddedHistorian({ dir });
      return historian;
    },
    cleanup: async () => {
      await historian.close().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('EmbeddedHistorian', () => {
  it('sorts closed partitions by (signal, time) and keeps answers and late data right', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gemba-hist-'));
    try {
      const h = await openEmbeddedHistorian({ dir, partitionMs: 3_600_000, closeAfterMs: 0 });
      const b = new SampleBatchBuilder();
      for (let t = 0; t < 3 * 3600; t += 10)
        for (let i = 0; i < 5; i++) b.pushNumber(`p/s${i}`, HISTORIAN_T0 + t * 1000, t + i);
      await h.append(b.build());
      await h.maintain(); // the first two hours are closed: sorted
      await h.append(
        SampleBatch.fromSamples([
          { signal: 'p/s1', ts: HISTORIAN_T0 + 5, value: -1, quality: 'good' }, // late, into a sorted partition
          { signal: 'p/s1', ts: HISTORIAN_T0 + 10_000, value: -2, quality: 'good' }, // overwrite
        ]),
      );
      await h.close();
      const h2 = await openEmbeddedHistorian({ dir, partitionMs: 3_600_000, closeAfterMs: 0 });
      await h2.maintain();
      const raw = await h2.queryRaw('p/s1', { fromMs: HISTORIAN_T0, toMs: HISTORIAN_T0 + 20_001 });
      expect(raw.map((r) => [r.ts - HISTORIAN_T0, r.value])).toEqual([
        [0, 1],
        [5, -1],
        [10_000, -2],
        [20_000, 21],
      ]);
      const hours = await h2.queryBuckets(
        ['p/s1'],
        { fromMs: HISTORIAN_T0, toMs: HISTORIAN_T0 + 3 * 3_600_000 },
        3_600_000,
      );
      expect(hours.map((r) => r.count)).toEqual([361, 360, 360]);
      expect(await h2.lastValues(['p/s4'])).toMatchObject([{ ts: HISTORIAN_T0 + (3 * 3600 - 10) * 1000 }]);
      await h2.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('takes one batch interleaving partitions, repeating rows and mixing value kinds', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gemba-hist-'));
    try {
      const h = await openEmbeddedHistorian({ dir, partitionMs: 3_600_000 });
      const H = 3_600_000;
      const b = new SampleBatchBuilder();
      for (let k = 0; k < 3000; k++) {
        // Rows alternate between hours 0, 2 and 1 (three partitions, interleaved).
        const ts = HISTORIAN_T0 + ((k % 3) * 2 - (k % 3 === 2 ? 3 : 0)) * H + Math.floor(k / 3) * 1000;
        b.pushNumber(`q/s${k % 4}`, ts, k);
      }
      b.push('q/s0', HISTORIAN_T0 + 4000, 'text', 'uncertain'); // overwrites a number in this batch
      b.push('q/flag', HISTORIAN_T0 + 2 * H, true);
      b.pushNumber('q/s1', HISTORIAN_T0 + 2 * H, Number.NaN, 'bad'); // overwrites too
      await h.append(b.build());
      const all = await Promise.all(
        ['q/s0', 'q/s1', 'q/s2', 'q/s3'].map((s) =>
          h.queryRaw(s, { fromMs: HISTORIAN_T0, toMs: HISTORIAN_T0 + 3 * H }),
        ),
      );
      expect(all.reduce((n, r) => n + r.length, 0)).toBe(3000);
      const s0 = await h.queryRaw('q/s0', { fromMs: HISTORIAN_T0 + 4000, toMs: HISTORIAN_T0 + 4001 });
      expect(s0).toMatchObject([{ value: 'text', quality: 'uncertain' }]);
      const s1 = await h.queryRaw('q/s1', {
        fromMs: HISTORIAN_T0 + 2 * H,
        toMs: HISTORIAN_T0 + 2 * H + 1,
      });
      expect(s1).toHaveLength(1);
      expect(s1[0]?.quality).toBe('bad');
      expect(Number.isNaN(s1[0]?.value)).toBe(true);
      expect(await h.lastValues(['q/flag'])).toMatchObject([{ value: true }]);
      const hours = await h.queryBuckets(['q/s2'], { fromMs: HISTORIAN_T0, toMs: HISTORIAN_T0 + 3 * H }, H);
      expect(hours.map((r) => r.count)).toEqual([250, 250, 250]);
      await h.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
