import { InProcessBus } from '@gemba/core';
import { HISTORIAN_T0 } from '@gemba/core/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startHistorianWriter } from '../src/historian-writer.ts';
import { openPostgresHistorian, type PostgresHistorian } from '../src/postgres-historian.ts';
import { CRASH_SIGNALS, CRASH_STEPS, crashBatch, crashSignal } from './fixtures/crash-data.ts';
import { PrivatePostgres, privatePostgresSkipReason } from './fixtures/private-postgres.ts';

const skip = await privatePostgresSkipReason();
const BATCHES = 300;

describe.skipIf(skip !== undefined)('PostgreSQL historian: server restarts during ingest', () => {
  let server: PrivatePostgres;
  beforeAll(async () => {
    server = await PrivatePostgres.start();
  });
  afterAll(() => server?.destroy());

  it('loses nothing and duplicates nothing across a fast and a crash-like restart', async () => {
    const historian: PostgresHistorian = await openPostgresHistorian({ url: server.url, schema: 'restart' });
    const bus = new InProcessBus({ maxMessages: 100 });
    const writer = await startHistorianWriter({
      bus,
      historian,
      durable: 'historian',
      maxBatchSamples: 10_000,
      initialBackoffMs: 50,
      maxBackoffMs: 500,
    });
    const producer = (async () => {
      for (let k = 0; k < BATCHES; k++) await bus.publish('gemba.samples.restart', crashBatch(k));
    })();
    await vi.waitFor(() => expect(writer.stats().messages).toBeGreaterThanOrEqual(60), {
      timeout: 60_000,
      interval: 10,
    });
    server.stopServer('fast');
    await vi.waitFor(() => expect(writer.stats().failures).toBeGreaterThan(0), {
      timeout: 30_000,
      interval: 10,
    });
    const lagWhileDown = await writer.lag();
    server.startServer();
    await vi.waitFor(() => expect(writer.stats().messages).toBeGreaterThanOrEqual(150), {
      timeout: 60_000,
      interval: 10,
    });
    server.stopServer('immediate');
    await vi.waitFor(() => expect(writer.stats().lastError).toBeDefined(), { timeout: 30_000, interval: 10 });
    server.startServer();
    await producer;
    await vi.waitFor(async () => expect(await writer.lag()).toBe(0), { timeout: 120_000, interval: 20 });
    const stats = writer.stats();
    await writer.stop();
    expect(lagWhileDown).toBeGreaterThan(0);
    expect(stats.failures).toBeGreaterThan(1);
    expect(stats.messages).toBeGreaterThanOrEqual(BATCHES);

    const all = { fromMs: HISTORIAN_T0, toMs: HISTORIAN_T0 + BATCHES * CRASH_STEPS * 10 };
    const signals = [...Array(CRASH_SIGNALS).keys()].map(crashSignal);
    const counts = await historian.queryBuckets(signals, all, 3_600_000);
    const one = await historian.queryRaw(crashSignal(42), all);
    const missing = [...Array(BATCHES).keys()].filter(
      (k) => !one.some((r) => r.ts === HISTORIAN_T0 + k * CRASH_STEPS * 10),
    );
    expect(missing, `batches missing; writer ${JSON.stringify(stats)}`).toEqual([]);
    expect(counts.map((r) => r.count)).toEqual(Array(CRASH_SIGNALS).fill(BATCHES * CRASH_STEPS));
    expect(one.map((r) => r.value)).toEqual(
      [...Array(BATCHES * CRASH_STEPS).keys()].map((s) => s * 1000 + 42),
    );
    const rollup = await historian.queryRollup([crashSignal(42)], '1m', all);
    expect(rollup.reduce((a, r) => a + r.count, 0)).toBe(BATCHES * CRASH_STEPS);
    await historian.close();
    await bus.close();
  });
});
