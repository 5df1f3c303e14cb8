import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BucketRow, Historian, HistorianEvent, RetentionPolicy } from '../historian.ts';
import { isAggregatable } from '../historian.ts';
import { type Sample, SampleBatch, SampleBatchBuilder } from '../sample.ts';

/** What a historian contract suite needs from an implementation. */
export interface HistorianFixture {
  historian: Historian;
  /**
   * Closes the historian and opens the same store again (persistent backends). When given, the
   * suite checks that everything appended survives a reopen.
   */
  reopen?: () => Promise<Historian>;
  /** Releases everything the fixture created (the historian may already be closed). */
  cleanup?: () => Promise<void>;
}

/** 2026-01-05T00:00:00Z: an hour-aligned base time for test data. */
export const HISTORIAN_T0 = Date.UTC(2026, 0, 5);

/** Reference aggregation of samples into buckets, the way the contract defines it. */
export function referenceBuckets(samples: readonly Sample[], bucketMs: number): BucketRow[] {
  const groups = new Map<string, Sample[]>();
  for (const s of samples) {
    if (!isAggregatable(s.value, s.quality)) continue;
    const b = Math.floor(s.ts / bucketMs) * bucketMs;
    const key = `${s.signal}\u0000${b}`;
    const g = groups.get(key);
    if (g === undefined) groups.set(key, [s]);
    else g.push(s);
  }
  const rows: BucketRow[] = [];
  for (const [key, g] of groups) {
    const [signal, b] = key.split('\u0000') as [string, string];
    g.sort((x, y) => x.ts - y.ts);
    const v = g.map((s) => Number(s.value));
    const mean = v.reduce((a, x) => a + x, 0) / v.length;
    const ss = v.reduce((a, x) => a + (x - mean) ** 2, 0);
    rows.push({
      signal,
      bucketMs: Number(b),
      count: v.length,
      mean,
      min: Math.min(...v),
      max: Math.max(...v),
      first: v[0] as number,
      last: v[v.length - 1] as number,
      stddev: v.length > 1 ? Math.sqrt(ss / (v.length - 1)) : 0,
    });
  }
  return rows.sort((x, y) => (x.signal < y.signal ? -1 : x.signal > y.signal ? 1 : x.bucketMs - y.bucketMs));
}

function expectRowsClose(actual: readonly BucketRow[], expected: readonly BucketRow[]): void {
  expect(actual.map((r) => [r.signal, r.bucketMs, r.count])).toEqual(
    expected.map((r) => [r.signal, r.bucketMs, r.count]),
  );
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i] as BucketRow;
    const e = expected[i] as BucketRow;
    for (const k of ['mean', 'min', 'max', 'first', 'last', 'stddev'] as const) {
      expect(a[k], `${e.signal} @${e.bucketMs} ${k}`).toBeCloseTo(e[k], 6);
    }
  }
}

/** A deterministic pseudo-random generator (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const YEAR_MS = 365 * 86_400_000;

/**
 * The contract every {@link Historian} passes: raw round trip of every value type and quality,
 * idempotent appends (last write wins, whatever the order of arrival), bucketed aggregates over
 * arbitrary buckets, last values, rollups at 1 s / 1 min / 1 h kept up to date as data arrives,
 * events with their queries, retention per resolution, and (for persistent stores) reopening.
 *
 * @example
 * historianContractSuite('memory', async () => ({ historian: new MemoryHistorian() }));
 */
export function historianContractSuite(name: string, makeFixture: () => Promise<HistorianFixture>): void {
  describe(`Historian contract: ${name}`, () => {
    let fx: HistorianFixture;
    let h: Historian;
    let ns: string;
    const sig = (s: string): string => `${ns}/${s}`;

    beforeEach(async () => {
      fx = await makeFixture();
      h = fx.historian;
      ns = `t${randomUUID().replaceAll('-', '').slice(0, 10)}/plant/area/line`;
    });
    afterEach(async () => {
      await h.close().catch(() => undefined);
      await fx.cleanup?.();
    });

    it('round-trips numbers, booleans, strings and qualities in time order over [from, to)', async () => {
      const samples: Sample[] = [
        { signal: sig('press/count'), ts: HISTORIAN_T0 + 2000, value: 42.5, quality: 'good' },
        { signal: sig('press/count'), ts: HISTORIAN_T0, value: -1, quality: 'uncertain' },
        { signal: sig('press/count'), ts: HISTORIAN_T0 + 1000, value: 0, quality: 'bad' },
        { signal: sig('press/running'), ts: HISTORIAN_T0, value: true, quality: 'good' },
        { signal: sig('press/running'), ts: HISTORIAN_T0 + 5, value: false, quality: 'good' },
        {
          signal: sig('press/recipe'),
          ts: HISTORIAN_T0,
          value: 'bracket-A \u00e9\u00f8 "q"',
          quality: 'good',
        },
        { signal: sig('press/recipe'), ts: HISTORIAN_T0 + 1, value: '', quality: 'uncertain' },
      ];
      await h.append(SampleBatch.fromSamples(samples));
      const range = { fromMs: HISTORIAN_T0, toMs: HISTORIAN_T0 + 2000 };
      expect(await h.queryRaw(sig('press/count'), range)).toEqual([samples[1], samples[2]]);
      expect(
        await h.queryRaw(sig('press/count'), { fromMs: HISTORIAN_T0, toMs: HISTORIAN_T0 + 2001 }, 2),
      ).toEqual([samples[1], samples[2]]);
      expect(await h.queryRaw(sig('press/running'), range)).toEqual([samples[3], samples[4]]);
      expect(await h.queryRaw(sig('press/recipe'), range)).toEqual([samples[5], samples[6]]);
      expect(await h.queryRaw(sig('unknown'), range)).toEqual([]);
      await h.append(SampleBatch.empty());
    });

    it('is idempotent: the same signal and time twice is one row, the last write wins, whatever the order', async () => {
      const s = sig('oven/zone2/temperature');
      const b = new SampleBatchBuilder();
      for (let i = 0; i < 10; i++) b.pushNumber(s, HISTORIAN_T0 + i * 100, i);
      const first = b.build();
      await h.append(first);
      await h.append(first); // a redelivered batch
      // Late, out-of-order data and overwrites of existing times, including twice in one batch.
      const b2 = new SampleBatchBuilder();
      b2.pushNumber(s, HISTORIAN_T0 + 300, 103);
      b2.pushNumber(s, HISTORIAN_T0 + 50, 50.5);
      b2.pushNumber(s, HISTORIAN_T0 + 300, 203);
      b2.push(s, HISTORIAN_T0 + 900, 9, 'bad');
      await h.append(b2.build());
      const rows = await h.queryRaw(s, { fromMs: HISTORIAN_T0, toMs: HISTORIAN_T0 + 10_000 });
      expect(rows.map((r) => r.ts - HISTORIAN_T0)).toEqual([
        0, 50, 100, 200, 300, 400, 500, 600, 700, 800, 900,
      ]);
      expect(rows.find((r) => r.ts === HISTORIAN_T0 + 300)?.value).toBe(203);
      expect(rows.find((r) => r.ts === HISTORIAN_T0 + 900)?.quality).toBe('bad');
      const buckets = await h.queryBuckets(
        [s],
        { fromMs: HISTORIAN_T0, toMs: HISTORIAN_T0 + 10_000 },
        10_000,
      );
      expect(buckets.map((r) => r.count)).toEqual([10]); // the bad one is left out
    });

    it('aggregates over arbitrary buckets: count, mean, min, max, first, last, stddev', async () => {
      const rand = rng(7);
      const samples: Sample[] = [];
      for (const name of ['b/x', 'a/y', 'c/flag']) {
        for (let i = 0; i < 400; i++) {
          const ts = HISTORIAN_T0 + i * 250 + Math.floor(rand() * 200);
          const value = name === 'c/flag' ? rand() > 0.5 : Math.round(rand() * 1e6) / 100 + 150;
          const quality = rand() < 0.05 ? 'bad' : rand() < 0.1 ? 'uncertain' : 'good';
          samples.push({ signal: sig(name), ts, value, quality });
        }
      }
      samples.push({ signal: sig('a/y'), ts: HISTORIAN_T0 + 3, value: 'text', quality: 'good' });
      // Shuffle the order of arrival.
      const shuffled = [...samples].sort(() => rand() - 0.5);
      await h.append(SampleBatch.fromSamples(shuffled.slice(0, 600)));
      await h.append(SampleBatch.fromSamples(shuffled.slice(600)));
      const signals = [sig('b/x'), sig('a/y'), sig('c/flag'), sig('none')];
      const range = { fromMs: HISTORIAN_T0 + 1234, toMs: HISTORIAN_T0 + 77_777 };
      const inRange = samples.filter((s) => s.ts >= range.fromMs && s.ts < range.toMs);
      for (const width of [7000, 1000, 60_000, 3_600_000]) {
        expectRowsClose(await h.queryBuckets(signals, range, width), referenceBuckets(inRange, width));
      }
      // Aligned ranges (which a backend may answer from rollups) agree too.
      const aligned = { fromMs: HISTORIAN_T0, toMs: HISTORIAN_T0 + 3_600_000 };
      for (const width of [1000, 60_000, 120_000, 3_600_000]) {
        expectRowsClose(await h.queryBuckets(signals, aligned, width), referenceBuckets(samples, width));
      }
      await expect(h.queryBuckets(signals, range, 0)).rejects.toMatchObject({
        code: 'GEMBA_HISTORIAN_QUERY',
      });
    });

    it('serves the last value of each signal, of all signals and of a subset', async () => {
      const b = new SampleBatchBuilder();
      b.pushNumber(sig('a'), HISTORIAN_T0 + 10, 1);
      b.pushNumber(sig('a'), HISTORIAN_T0 + 20, 2);
      b.push(sig('b'), HISTORIAN_T0 + 5, 'on', 'uncertain');
      b.push(sig('c'), HISTORIAN_T0 + 7, true);
      await h.append(b.build());
      // An older sample arriving late does not replace the last value; an overwrite of it does.
      await h.append(
        SampleBatch.fromSamples([{ signal: sig('a'), ts: HISTORIAN_T0 + 15, value: 9, quality: 'good' }]),
      );
      await h.append(
        SampleBatch.fromSamples([{ signal: sig('c'), ts: HISTORIAN_T0 + 7, value: false, quality: 'bad' }]),
      );
      const all = (await h.lastValues()).filter((s) => s.signal.startsWith(ns));
      expect(all).toEqual([
        { signal: sig('a'), ts: HISTORIAN_T0 + 20, value: 2, quality: 'good' },
        { signal: sig('b'), ts: HISTORIAN_T0 + 5, value: 'on', quality: 'uncertain' },
        { signal: sig('c'), ts: HISTORIAN_T0 + 7, value: false, quality: 'bad' },
      ]);
      expect(await h.lastValues([sig('c'), sig('zz'), sig('a')])).toEqual([all[0], all[2]]);
    });

    it('keeps 1 s, 1 min and 1 h rollups up to date as data arrives', async () => {
      const s = sig('weld/current');
      const samples: Sample[] = [];
      const rand = rng(11);
      for (let i = 0; i < 2000; i++) {
        samples.push({ signal: s, ts: HISTORIAN_T0 + i * 3700, value: 100 + rand() * 10, quality: 'good' });
      }
      await h.append(SampleBatch.fromSamples(samples.slice(0, 1000)));
      const range = { fromMs: HISTORIAN_T0, toMs: HISTORIAN_T0 + 3 * 3_600_000 };
      expectRowsClose(
        await h.queryRollup([s], '1m', range),
        referenceBuckets(samples.slice(0, 1000), 60_000),
      );
      // More data, a late sample and an overwrite: every resolution follows.
      await h.append(SampleBatch.fromSamples(samples.slice(1000)));
      const late: Sample = { signal: s, ts: HISTORIAN_T0 + 1, value: 1000, quality: 'good' };
      const over: Sample = { ...(samples[500] as Sample), value: -50 };
      await h.append(SampleBatch.fromSamples([late, over]));
      const now = [late, ...samples.map((x, i) => (i === 500 ? over : x))];
      expectRowsClose(await h.queryRollup([s], '1s', range), referenceBuckets(now, 1000));
      expectRowsClose(await h.queryRollup([s], '1m', range), referenceBuckets(now, 60_000));
      expectRowsClose(await h.queryRollup([s], '1h', range), referenceBuckets(now, 3_600_000));
      expect(await h.queryRollup([sig('none')], '1h', range)).toEqual([]);
    });

    it('keeps events idempotently by id and queries them by time, kind and source path', async () => {
      const station = `${ns}/oven`;
      const ev = (id: string, kind: HistorianEvent['kind'], source: string, dt: number): HistorianEvent => ({
        id: `${ns}:${id}`,
        kind,
        source,
        ts: HISTORIAN_T0 + dt,
        data: { state: 'down', reason: 'fault 7', nested: { a: [1, 2] } },
      });
      const events = [
        ev('s1', 'state', station, 0),
        ev('s2', 'state', `${station}/zone2`, 10),
        ev('a1', 'alarm', `${station}/zone2/temperature`, 5),
        ev('o1', 'order', `${ns}/ovenx`, 7),
        ev('u1', 'audit', ns, 20),
      ];
      await h.appendEvents(events);
      await h.appendEvents([{ ...(events[0] as HistorianEvent), data: { state: 'running' } }]);
      const range = { fromMs: HISTORIAN_T0, toMs: HISTORIAN_T0 + 20 };
      const all = await h.queryEvents({ ...range, sourcePrefix: ns });
      expect(all.map((e) => e.id)).toEqual(['s1', 'a1', 'o1', 's2'].map((x) => `${ns}:${x}`));
      expect(all[0]?.data).toEqual({ state: 'running' });
      expect(all[1]).toEqual(events[2]);
      const below = await h.queryEvents({ ...range, sourcePrefix: station });
      expect(below.map((e) => e.id)).toEqual(['s1', 'a1', 's2'].map((x) => `${ns}:${x}`));
      const states = await h.queryEvents({ ...range, kind: 'state', sourcePrefix: station, limit: 1 });
      expect(states.map((e) => e.id)).toEqual([`${ns}:s1`]);
    });

    it('applies retention per resolution: raw for days, rollups for years, events by time', async () => {
      const s = sig('pack/count');
      const day = 86_400_000;
      const samples: Sample[] = [];
      for (let d = 0; d < 10; d++) {
        for (let k = 0; k < 3; k++)
          samples.push({ signal: s, ts: HISTORIAN_T0 + d * day + k * 1500, value: d, quality: 'good' });
      }
      await h.append(SampleBatch.fromSamples(samples));
      await h.appendEvents([
        { id: `${ns}:old`, kind: 'alarm', source: s, ts: HISTORIAN_T0 + day, data: {} },
        { id: `${ns}:new`, kind: 'alarm', source: s, ts: HISTORIAN_T0 + 9 * day, data: {} },
      ]);
      const policy: RetentionPolicy = {
        rawMs: 3 * day,
        rollupMs: { '1s': 5 * day, '1m': 8 * day, '1h': YEAR_MS },
        eventsMs: 4 * day,
      };
      const now = HISTORIAN_T0 + 10 * day;
      await h.applyRetention(policy, now);
      const all = { fromMs: HISTORIAN_T0 - day, toMs: now + day };
      const raw = await h.queryRaw(s, all);
      expect(raw.length).toBe(9);
      expect(raw[0]?.ts).toBe(HISTORIAN_T0 + 7 * day);
      expect((await h.queryRollup([s], '1s', all)).map((r) => r.mean)).toEqual([
        5, 5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 8, 9, 9, 9,
      ]);
      expect((await h.queryRollup([s], '1m', all)).map((r) => r.mean)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
      expect((await h.queryRollup([s], '1h', all)).map((r) => r.count)).toEqual(Array(10).fill(3));
      expect((await h.queryEvents({ ...all, sourcePrefix: s })).map((e) => e.id)).toEqual([`${ns}:new`]);
      // Data arriving after retention is kept as usual.
      await h.append(SampleBatch.fromSamples([{ signal: s, ts: now, value: 10, quality: 'good' }]));
      expect((await h.queryRaw(s, all)).length).toBe(10);
    });

    it('takes a batch of many signals at once', async () => {
      const b = new SampleBatchBuilder(20_000);
      for (let t = 0; t < 10; t++)
        for (let i = 0; i < 2000; i++) b.pushNumber(sig(`s${i}`), HISTORIAN_T0 + t * 1000, t + i);
      await h.append(b.build());
      const last = (await h.lastValues()).filter((s) => s.signal.startsWith(ns));
      expect(last.length).toBe(2000);
      expect(last.every((s) => s.ts === HISTORIAN_T0 + 9000)).toBe(true);
      const rows = await h.queryBuckets(
        [sig('s1999')],
        { fromMs: HISTORIAN_T0, toMs: HISTORIAN_T0 + 60_000 },
        60_000,
      );
      expect(rows).toMatchObject([{ count: 10, min: 1999, max: 2008, first: 1999, last: 2008 }]);
    });

    it('keeps everything across a reopen (persistent stores)', async (ctx) => {
      if (fx.reopen === undefined) {
        ctx.skip();
        return;
      }
      const s = sig('test/result');
      const samples: Sample[] = [];
      for (let i = 0; i < 100; i++)
        samples.push({ signal: s, ts: HISTORIAN_T0 + i * 500, value: i % 7, quality: 'good' });
      await h.append(SampleBatch.fromSamples(samples));
      await h.appendEvents([
        { id: `${ns}:e`, kind: 'audit', source: s, ts: HISTORIAN_T0, data: { who: 'me' } },
      ]);
      h = await fx.reopen();
      const range = { fromMs: HISTORIAN_T0, toMs: HISTORIAN_T0 + 3_600_000 };
      expect(await h.queryRaw(s, range)).toEqual(samples);
      expect(await h.lastValues([s])).toEqual([samples[99]]);
      expectRowsClose(await h.queryRollup([s], '1m', range), referenceBuckets(samples, 60_000));
      expect((await h.queryEvents({ ...range, sourcePrefix: s })).length).toBe(1);
      // A redelivery after the reopen is still absorbed.
      await h.append(SampleBatch.fromSamples(samples));
      expect((await h.queryRaw(s, range)).length).toBe(100);
    });
  });
}
