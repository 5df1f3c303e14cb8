// Historian figures per backend: sustained ingest with 10,000 signals, bytes per sample on disk
// (rollups included), query latency for (a) one signal in 1-minute buckets over 7 days, (b) the
// last value of all 10,000 signals, (c) 1-hour means of 100 signals over 30 days.
// Run: npx tsx bench/historian.ts [--backend embedded|postgres|both] [--scale 1]
// PostgreSQL: the shared server at GEMBA_BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres),
// in a throwaway schema.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { type Historian, type SampleBatch, SampleBatchBuilder } from '@gemba/core';
import { openEmbeddedHistorian, openPostgresHistorian } from '@gemba/historian';
import pg from 'pg';

const argOf = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? dflt) : dflt;
};
const BACKEND = argOf('backend', 'both');
const SCALE = Number(argOf('scale', '1'));
const PG_URL = process.env.GEMBA_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const T0 = Date.UTC(2026, 0, 1);
const DAY = 86_400_000;
const WIDE_SIGNALS = 10_000;

/** Per backend: how much data each phase writes (PostgreSQL ingests ~10× slower, so less). */
interface Plan {
  /** 1 s steps of all 10,000 signals. */
  wideSteps: number;
  /** Seconds between samples of the 100 "deep" signals over 30 days. */
  deepIntervalS: number;
}

const PLANS: Record<string, Plan> = {
  embedded: { wideSteps: Math.round(600 * SCALE), deepIntervalS: Math.max(1, Math.round(15 / SCALE)) },
  postgres: { wideSteps: Math.round(100 * SCALE), deepIntervalS: Math.max(1, Math.round(120 / SCALE)) },
};

/** A random walk per signal, rounded to 0.01 like a real sensor. */
class Walk {
  readonly #v: Float64Array;
  #seed = 1;
  constructor(n: number) {
    this.#v = new Float64Array(n).fill(100);
  }
  #rand(): number {
    this.#seed = (this.#seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return this.#seed / 2_147_483_648;
  }
  next(i: number): number {
    const v = (this.#v[i] as number) + (this.#rand() - 0.5) * 0.2;
    this.#v[i] = v;
    return Math.round(v * 100) / 100;
  }
}

const wideName = (i: number): string => `acme/plant1/area${i % 10}/line${i % 7}/st${i % 100}/sig${i}`;
const deepName = (i: number): string => `acme/plant2/deep/line1/st${i}/value`;
const HOT = 'acme/plant3/hot/line1/press/force';
/**
 * Names built once, as `decodeBatch` yields them (one string per distinct signal, shared by its
 * rows), rather than a fresh string per row: hashing fresh strings would be timed as ingest.
 */
const WIDE_NAMES = [...Array(WIDE_SIGNALS).keys()].map(wideName);
const DEEP_NAMES = [...Array(100).keys()].map(deepName);

interface Phase {
  samples: number;
  seconds: number;
}

/** Appends batches from `make` until it returns undefined; times only the appends. */
async function ingest(h: Historian, make: (k: number) => SampleBatch | undefined): Promise<Phase> {
  let samples = 0;
  let seconds = 0;
  for (let k = 0; ; k++) {
    const b = make(k);
    if (b === undefined) break;
    const t = performance.now();
    await h.append(b);
    seconds += (performance.now() - t) / 1000;
    samples += b.length;
  }
  return { samples, seconds };
}

async function timeQuery(fn: () => Promise<unknown>): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[2] as number;
}

interface Result {
  backend: string;
  ingestSamplesPerS: number;
  ingestSamples: number;
  totalSamples: number;
  bytesPerSample: number;
  bytes: number;
  /** Bytes per sample of the 10,000-signal 1 Hz data alone (with its rollups). */
  bytesPerSampleWide: number;
  queryAms: number;
  queryArawMs: number;
  queryBms: number;
  queryCms: number;
  maintenanceS: number;
}

async function run(
  backend: string,
  open: () => Promise<Historian & { sizeBytes(): Promise<number> }>,
  reopen: (h: Historian) => Promise<Historian & { sizeBytes(): Promise<number> }>,
  maintain: (h: Historian) => Promise<void>,
): Promise<Result> {
  const plan = PLANS[backend] as Plan;
  let h = await open();
  // Wide: 10,000 signals, 1 s apart, 10 steps (100,000 samples) per append like the writer's batches.
  const wide = new Walk(WIDE_SIGNALS);
  const STEPS_PER_BATCH = 10;
  const wideT0 = T0 + 40 * DAY;
  const w = await ingest(h, (k) => {
    if (k * STEPS_PER_BATCH >= plan.wideSteps) return undefined;
    const b = new SampleBatchBuilder(WIDE_SIGNALS * STEPS_PER_BATCH);
    for (let s = 0; s < STEPS_PER_BATCH; s++) {
      const ts = wideT0 + (k * STEPS_PER_BATCH + s) * 1000;
      for (let i = 0; i < WIDE_SIGNALS; i++) b.pushNumber(WIDE_NAMES[i] as string, ts, wide.next(i));
    }
    return b.build();
  });
  await maintain(h);
  h = await reopen(h);
  const wideBytes = await h.sizeBytes();
  // Deep: 100 signals over 30 days.
  const deep = new Walk(100);
  const deepSteps = Math.floor((30 * DAY) / (plan.deepIntervalS * 1000));
  const d = await ingest(h, (k) => {
    const per = 1000;
    if (k * per >= deepSteps) return undefined;
    const b = new SampleBatchBuilder(100 * per);
    for (let s = k * per; s < Math.min(deepSteps, (k + 1) * per); s++) {
      for (let i = 0; i < 100; i++)
        b.pushNumber(DEEP_NAMES[i] as string, T0 + s * plan.deepIntervalS * 1000, deep.next(i));
    }
    return b.build();
  });
  // Hot: one signal at 1 Hz for 7 days.
  const hot = new Walk(1);
  const hotSteps = 7 * 86_400;
  const hh = await ingest(h, (k) => {
    const per = 100_000;
    if (k * per >= hotSteps) return undefined;
    const b = new SampleBatchBuilder(per);
    for (let s = k * per; s < Math.min(hotSteps, (k + 1) * per); s++)
      b.pushNumber(HOT, T0 + s * 1000, hot.next(0));
    return b.build();
  });
  const tm = performance.now();
  await maintain(h);
  const maintenanceS = (performance.now() - tm) / 1000;
  h = await reopen(h);
  const bytes = await h.sizeBytes();
  const totalSamples = w.samples + d.samples + hh.samples;

  const weekA = { fromMs: T0, toMs: T0 + 7 * DAY };
  const queryAms = await timeQuery(() => h.queryBuckets([HOT], weekA, 60_000));
  // The same over a range not on minute boundaries: computed from raw samples.
  const queryArawMs = await timeQuery(() =>
    h.queryBuckets([HOT], { fromMs: T0 + 1, toMs: T0 + 7 * DAY - 1 }, 60_000),
  );
  const queryBms = await timeQuery(() => h.lastValues());
  const deepSignals = [...Array(100).keys()].map(deepName);
  const queryCms = await timeQuery(() =>
    h.queryBuckets(deepSignals, { fromMs: T0, toMs: T0 + 30 * DAY }, 3_600_000),
  );
  // Sanity: the answers have the expected shape.
  const a = await h.queryBuckets([HOT], weekA, 60_000);
  const c = await h.queryBuckets(deepSignals, { fromMs: T0, toMs: T0 + 30 * DAY }, 3_600_000);
  const last = await h.lastValues();
  if (a.length !== 7 * 1440 || c.length !== 100 * 720 || last.length !== WIDE_SIGNALS + 101) {
    throw new Error(`unexpected answers: a=${a.length} c=${c.length} last=${last.length}`);
  }
  await h.close();
  return {
    backend,
    ingestSamplesPerS: Math.round(w.samples / w.seconds),
    ingestSamples: w.samples,
    totalSamples,
    bytesPerSample: Math.round((bytes / totalSamples) * 100) / 100,
    bytesPerSampleWide: Math.round((wideBytes / w.samples) * 100) / 100,
    bytes,
    queryAms: Math.round(queryAms * 10) / 10,
    queryArawMs: Math.round(queryArawMs * 10) / 10,
    queryBms: Math.round(queryBms * 10) / 10,
    queryCms: Math.round(queryCms * 10) / 10,
    maintenanceS: Math.round(maintenanceS * 10) / 10,
  };
}

const results: Result[] = [];
if (BACKEND === 'embedded' || BACKEND === 'both') {
  const dir = mkdtempSync(join(tmpdir(), 'gemba-bench-hist-'));
  try {
    results.push(
      await run(
        'embedded',
        () => openEmbeddedHistorian({ dir, rollupIntervalMs: 1000 }),
        async (h) => {
          await h.close(); // checkpoints: the size is of the database file, WAL folded in
          return openEmbeddedHistorian({ dir });
        },
        (h) => (h as Awaited<ReturnType<typeof openEmbeddedHistorian>>).maintain(),
      ),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
if (BACKEND === 'postgres' || BACKEND === 'both') {
  const schema = `bench_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  try {
    results.push(
      await run(
        'postgres',
        () => openPostgresHistorian({ url: PG_URL, schema }),
        async (h) => {
          await h.close();
          const c = new pg.Client({ connectionString: PG_URL });
          await c.connect();
          await c.query(`VACUUM ANALYZE`);
          await c.end();
          return openPostgresHistorian({ url: PG_URL, schema });
        },
        (h) => (h as Awaited<ReturnType<typeof openPostgresHistorian>>).refreshRollups(),
      ),
    );
  } finally {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await c.end();
  }
}

console.log(
  `historian bench on ${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, scale ${SCALE}, load average ${loadavg()[0]?.toFixed(1)} at the end (the machine is shared)`,
);
console.log(
  'backend   | ingest samples/s (10k signals) | B/sample 10k@1Hz | B/sample all | (a) 1 signal 1-min × 7 d | (a, raw) | (b) last of 10k | (c) 100 sig 1-h × 30 d | samples stored',
);
for (const r of results) {
  console.log(
    `${r.backend.padEnd(9)} | ${String(r.ingestSamplesPerS).padStart(30)} | ${String(r.bytesPerSampleWide).padStart(16)} | ${String(r.bytesPerSample).padStart(12)} | ${`${r.queryAms} ms`.padStart(24)} | ${`${r.queryArawMs} ms`.padStart(8)} | ${`${r.queryBms} ms`.padStart(15)} | ${`${r.queryCms} ms`.padStart(22)} | ${r.totalSamples}`,
  );
}
console.log(JSON.stringify({ bench: 'historian', scale: SCALE, results }));
