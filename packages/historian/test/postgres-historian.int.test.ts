import { SampleBatch } from '@gemba/core';
import { historianContractSuite, serviceSkipReason } from '@gemba/core/testing';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { openPostgresHistorian } from '../src/postgres-historian.ts';
import { dropSchema, PG_URL, randomSchema } from './pg-fixture.ts';

const HOUR_MS = 3_600_000;

const skip = await serviceSkipReason('postgres');

describe.skipIf(skip !== undefined)('PostgreSQL historian', () => {
  historianContractSuite('PostgreSQL', async () => {
    const schema = randomSchema();
    let historian = await openPostgresHistorian({ url: PG_URL, schema });
    return {
      historian,
      reopen: async () => {
        await historian.close();
        historian = await openPostgresHistorian({ url: PG_URL, schema });
        return historian;
      },
      cleanup: async () => {
        await historian.close().catch(() => undefined);
        await dropSchema(PG_URL, schema);
      },
    };
  });

  it('retention drops whole raw partitions below the cut, trims the one holding it, keeps the rest', async () => {
    const schema = randomSchema();
    // One-hour partitions; samples every 10 min over five hours.
    const h = await openPostgresHistorian({ url: PG_URL, schema, partitionMs: HOUR_MS });
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    try {
      const t0 = Date.UTC(2026, 0, 5, 0, 0, 0);
      const sig = 'acme/plant1/assembly/line1/oven/zone2/temperature';
      await h.append(
        SampleBatch.fromSamples(
          Array.from({ length: 30 }, (_, i) => ({
            signal: sig,
            ts: t0 + i * 600_000,
            value: 180 + (i % 3),
            quality: 'good' as const,
          })),
        ),
      );
      const partitions = async (): Promise<string[]> =>
        (
          await c.query(
            'SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent ' +
              "JOIN pg_namespace n ON n.oid = p.relnamespace WHERE n.nspname = $1 AND p.relname = 'raw' ORDER BY c.relname",
            [schema],
          )
        ).rows.map((r: { relname: string }) => r.relname);
      const tables = async (): Promise<string[]> =>
        (
          await c.query(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r' AND c.relname LIKE 'raw\\_%' ORDER BY c.relname",
            [schema],
          )
        ).rows.map((r: { relname: string }) => r.relname);
      const names = [0, 1, 2, 3, 4].map((k) => `raw_${t0 + k * HOUR_MS}`);
      expect(await partitions()).toEqual(names);
      // Keep 2.5 h of raw data at t0 + 5 h: the cut is t0 + 2.5 h.
      const policy = {
        rawMs: 2.5 * HOUR_MS,
        rollupMs: { '1s': 30 * 24 * HOUR_MS, '1m': 30 * 24 * HOUR_MS, '1h': 365 * 24 * HOUR_MS },
        eventsMs: 30 * 24 * HOUR_MS,
      };
      await h.applyRetention(policy, t0 + 5 * HOUR_MS);
      // Hours 0 and 1 are gone as tables (not only detached); hour 2 keeps its rows from 2.5 h.
      expect(await partitions()).toEqual(names.slice(2));
      expect(await tables()).toEqual(names.slice(2));
      const left = await c.query(`SELECT ts FROM "${schema}".${names[2]} ORDER BY ts`);
      expect(left.rows.map((r: { ts: string }) => (Number(r.ts) - t0) / 600_000)).toEqual([15, 16, 17]);
      const raw = await h.queryRaw(sig, { fromMs: t0, toMs: t0 + 5 * HOUR_MS });
      expect(raw).toHaveLength(15);
      expect(raw[0]?.ts).toBe(t0 + 2.5 * HOUR_MS);
      // The dropped hours survive as 1 s rollups.
      const early = await h.queryBuckets([sig], { fromMs: t0, toMs: t0 + 2 * HOUR_MS }, HOUR_MS);
      expect(early.map((r) => r.count)).toEqual([6, 6]);
      // Applying it again changes nothing and does not fail.
      await h.applyRetention(policy, t0 + 5 * HOUR_MS);
      expect(await partitions()).toEqual(names.slice(2));
    } finally {
      await c.end();
      await h.close();
      await dropSchema(PG_URL, schema);
    }
  });
});
