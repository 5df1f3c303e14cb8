import { DuckDBInstance } from '@duckdb/node-api';
import { SampleBatchBuilder } from '@gemba/core';
import { describe, expect, it } from 'vitest';
import { packFlags } from './encoding.ts';
import { RawChunkWriter } from './raw-chunk-writer.ts';

const RAW = 'sid INTEGER NOT NULL, ts BIGINT NOT NULL, num DOUBLE, str VARCHAR, flags UTINYINT NOT NULL';

describe('RawChunkWriter', () => {
  it('stores the same rows as appending value by value (NULLs, strings, int64 times, > 1 chunk)', async () => {
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    try {
      await c.run(`CREATE TABLE by_chunk (${RAW})`);
      await c.run(`CREATE TABLE by_row (${RAW})`);
      const b = new SampleBatchBuilder(5000);
      const times = [
        0,
        -1,
        -1.5,
        1.5,
        2.5,
        -2.5,
        2 ** 32,
        2 ** 32 - 1,
        -(2 ** 32),
        1_767_225_600_123,
        -8.64e15,
        8.64e15,
      ];
      for (let i = 0; i < 5000; i++) {
        const ts = times[i % times.length] as number;
        const sig = `s${i % 37}`;
        if (i % 11 === 0) b.push(sig, ts, `text ${i} ünïcödé`, 'uncertain');
        else if (i % 7 === 0) b.push(sig, ts, i % 2 === 0, 'bad');
        else if (i % 13 === 0) b.pushNumber(sig, ts, Number.NaN);
        else b.pushNumber(sig, ts, i % 5 === 0 ? Number.POSITIVE_INFINITY : i / 3 - 700);
      }
      const batch = b.build();
      const sidOf = new Int32Array(batch.length).map((_, i) => (i * 7919) % 100_003);
      // Every row but a few, in a shuffled order, as the historian passes row subsets.
      const rows = [...Array(batch.length).keys()].filter((i) => i % 97 !== 5).reverse();
      const ca = await c.createAppender('by_chunk');
      new RawChunkWriter().append(ca, batch, Int32Array.from(rows), rows.length, sidOf);
      ca.flushSync();
      ca.closeSync();
      const ra = await c.createAppender('by_row');
      for (const i of rows) {
        ra.appendInteger(sidOf[i] as number);
        ra.appendDouble(batch.ts[i] as number);
        const num = batch.num[i] as number;
        if (Number.isNaN(num)) ra.appendNull();
        else ra.appendDouble(num);
        const s = batch.str?.[i];
        if (s === undefined) ra.appendNull();
        else ra.appendVarchar(s);
        ra.appendUTinyInt(packFlags(batch.kind[i] as number, batch.quality[i] as number));
        ra.endRow();
      }
      ra.flushSync();
      ra.closeSync();
      const count = async (sql: string): Promise<number> =>
        Number((await c.runAndReadAll(sql)).getRows()[0]?.[0]);
      expect(await count('SELECT count(*) FROM by_chunk')).toBe(rows.length);
      expect(
        await count('SELECT count(*) FROM (SELECT * FROM by_chunk EXCEPT ALL SELECT * FROM by_row)'),
      ).toBe(0);
      expect(
        await count('SELECT count(*) FROM (SELECT * FROM by_row EXCEPT ALL SELECT * FROM by_chunk)'),
      ).toBe(0);
      expect(await count('SELECT count(*) FROM by_chunk WHERE num IS NULL')).toBeGreaterThan(0);
      expect(await count('SELECT count(*) FROM by_chunk WHERE str IS NOT NULL')).toBeGreaterThan(0);
      expect(await count(`SELECT count(*) FROM by_chunk WHERE ts = ${2 ** 32}`)).toBeGreaterThan(0);
    } finally {
      c.closeSync();
      db.closeSync();
    }
  });
});
