import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StoreAndForward } from '@gemba/connect';
import { parseModel, RealClock, SampleBatchBuilder, silentLogger, subjectForPath } from '@gemba/core';
import { commandSkipReason, serviceSkipReason } from '@gemba/core/testing';
import { JetStreamBus } from '@gemba/nats';
import { multiLineModelYaml, NATS_SERVER_BIN, NatsServerProcess } from '@gemba/nats/testing';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { startEngineNode } from '../src/scale-nodes.ts';

const PG_URL = process.env.GEMBA_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const skip =
  (await commandSkipReason(NATS_SERVER_BIN, 'apt-get install nats-server')) ??
  (await serviceSkipReason('postgres'));

describe.skipIf(skip !== undefined)(
  'NATS restart under a steady stream (gateway buffer → engine → PostgreSQL)',
  () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    });

    it('buffers while nats-server is down and replays; the historian holds every sample once', {
      timeout: 120_000,
    }, async () => {
      const srv = await NatsServerProcess.start();
      cleanups.push(() => srv.cleanup());
      const dir = mkdtempSync(join(tmpdir(), 'gemba-restart-'));
      cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
      const schema = `rs_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
      const db = new pg.Client({ connectionString: PG_URL });
      await db.connect();
      cleanups.push(async () => {
        await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await db.end();
      });
      const model = parseModel(
        multiLineModelYaml(readFileSync('examples/demo-line/plant.yaml', 'utf8'), 1, 2),
        'x.yaml',
      );
      const lines = model.lines.map((l) => l.path);
      const logger = silentLogger();
      const engine = await startEngineNode({
        model,
        busUrl: srv.url,
        historianUrl: PG_URL,
        historianSchema: schema,
        member: 'engine-r',
        leaseMs: 5_000,
        logger,
      });
      cleanups.push(() => engine.stop());
      expect(engine.owned()).toEqual(lines);

      // The gateway: the connect package's store-and-forward buffer over the JetStream bus.
      const bus = await JetStreamBus.connect(
        { servers: srv.url, name: 'test-gateway', reconnectWaitMs: 100 },
        { publishTimeoutMs: 1_000, ackTimeoutMs: 1_000 },
      );
      cleanups.push(() => bus.close());
      const saf = new StoreAndForward({
        bus,
        dir: join(dir, 'buffer'),
        clock: new RealClock(),
        logger,
        publishTimeoutMs: 1_500,
      });
      cleanups.push(() => saf.close());

      // A steady stream: every 5 ms one batch of 20 samples per line; the server is down from
      // batch 150 to batch 300 (about 0.75 s of the ~2.5 s stream) or until a publish failed.
      const batches = 500;
      const perBatch = 20;
      const t0 = Date.now() - 3_600_000;
      let outage: Promise<void> = Promise.resolve();
      for (let b = 0; b < batches; b++) {
        for (const line of lines) {
          const sb = new SampleBatchBuilder(perBatch);
          for (let i = 0; i < perBatch; i++)
            sb.pushNumber(`${line}/oven/zone2/temperature`, t0 + b * perBatch + i, 180 + i / 10);
          saf.enqueue(subjectForPath(line), sb.build());
        }
        if (b === 150) await srv.stop('SIGTERM');
        // Back only once the buffer has seen the outage (a publish failed): on a loaded machine
        // 150 batches can take less than the publish timeout, and nothing would have failed yet.
        if (b === 300)
          outage = (async () => {
            await expect.poll(() => saf.stats().publishErrors, { timeout: 15_000 }).toBeGreaterThan(0);
            await srv.restart();
          })();
        await new Promise((r) => setTimeout(r, 5));
      }
      await outage;
      expect(saf.stats().publishErrors).toBeGreaterThan(0); // the outage was real
      await saf.flush(60_000);

      const total = batches * perBatch * lines.length;
      await expect
        .poll(
          async () =>
            Number(
              (
                await db
                  .query(`SELECT count(*)::int8 AS n FROM "${schema}".raw`)
                  .catch(() => ({ rows: [{ n: 0 }] }))
              ).rows[0].n,
            ),
          { timeout: 60_000, interval: 250 },
        )
        .toBe(total);
      const rows = await db.query(
        `SELECT count(*)::int8 AS n, count(DISTINCT (sid, ts))::int8 AS d FROM "${schema}".raw`,
      );
      expect(Number(rows.rows[0].d)).toBe(total);
      // The stream stored each batch once: retries and replays were deduplicated by msgId.
      let stored = 0;
      for (const l of ['GEMBA_acme_plant1']) stored += (await bus.manager.streams.info(l)).state.messages;
      expect(stored).toBe(batches * lines.length);
    });
  },
);
