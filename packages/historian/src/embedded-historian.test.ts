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
});
