import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  type BucketRow,
  type EventKind,
  GembaError,
  type Historian,
  type HistorianEvent,
  type Logger,
  type RetentionPolicy,
  ROLLUP_MS,
  type RollupResolution,
  type Sample,
  type SampleBatch,
  type SignalId,
  silentLogger,
  type TimeRange,
} from '@gemba/core';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import {
  bridgeRanges,
  checkBucket,
  checkRange,
  DAY_MS,
  floorTo,
  packFlags,
  stddevOf,
  toNumber,
  toSample,
} from './encoding.ts';
import { encodeCopyBinary } from './pg-copy-binary.ts';

/** Options of {@link openPostgresHistorian}. */
export interface PostgresHistorianOptions {
  /** Connection URL, e.g. `postgres://gemba@db:5432/gemba`. */
  url: string;
  /** Schema holding the historian's tables (created if missing). Default `gemba`. */
  schema?: string;
  logger?: Logger;
  /** Width of a raw partition, ms; default one day (UTC). */
  partitionMs?: number;
  /** How often this instance brings rollups up to date, ms; default 1000 (0 disables the timer). */
  rollupIntervalMs?: number;
  /** Most connections in the pool. Default 4. */
  maxConnections?: number;
  /** How long to wait for a connection (from the pool or the server), ms. Default 30 000. */
  connectTimeoutMs?: number;
  /** An append that has not committed after this long fails (and is retried by the writer), ms. Default 120 000. */
  appendTimeoutMs?: number;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const NO_FLOOR = -9e15;

const AGG_WHERE = `flags < 8 AND flags % 4 < 2 AND num IS NOT NULL AND num <> 'NaN'::float8 AND abs(num) <> 'Infinity'::float8`;
const RAW_AGG = (width: number): string =>
  `sid, floor(ts::float8 / ${width})::bigint * ${width} AS bucket, count(*) AS n, avg(num) AS mean, ` +
  `var_pop(num) * count(*) AS m2, min(num) AS mn, max(num) AS mx, (array_agg(num ORDER BY ts))[1] AS first, ` +
  `min(ts) AS first_ts, (array_agg(num ORDER BY ts DESC))[1] AS last, max(ts) AS last_ts`;
const ROLLUP_COLS = 'sid, bucket, n, mean, m2, mn, mx, first, first_ts, last, last_ts';

function mergeSql(table: string, width: number, where: string): string {
  const b = `floor(bucket::float8 / ${width})::bigint * ${width}`;
  return (
    `SELECT sid, b AS bucket, sum(n)::bigint AS n, max(gm) AS mean, sum(m2 + n * (mean - gm) * (mean - gm)) AS m2, ` +
    `min(mn) AS mn, max(mx) AS mx, (array_agg(first ORDER BY first_ts))[1] AS first, min(first_ts) AS first_ts, ` +
    `(array_agg(last ORDER BY last_ts DESC))[1] AS last, max(last_ts) AS last_ts ` +
    `FROM (SELECT *, ${b} AS b, sum(n * mean) OVER w / sum(n) OVER w AS gm FROM ${table} WHERE ${where} ` +
    `WINDOW w AS (PARTITION BY sid, ${b})) s GROUP BY sid, b`
  );
}

function lit(ms: number): string {
  return String(Math.min(9e15, Math.max(NO_FLOOR, ms)));
}

interface Floors {
  raw: number;
  r1s: number;
  r1m: number;
  r1h: number;
}

/**
 * The PostgreSQL historian (any PostgreSQL ≥ 13, no extensions) for the scaled-out mode.
 *
 * Layout in one schema: `raw` partitioned by range of `ts` (ms) into `raw_<startMs>` partitions,
 * primary key (sid, ts) — the index for "one signal over a range" and what makes appends
 * idempotent (`ON CONFLICT DO UPDATE`, last write wins); `last_value` (one row per signal, the
 * index for "last value of every signal"); `rollup_1s/1m/1h` with primary key (sid, bucket);
 * `events`; `signals` (path ↔ id); `dirty` (minutes awaiting a rollup refresh); `meta`
 * (retention floors). Ingest is binary COPY into a temporary staging table, then one upsert per
 * batch in one transaction. Several instances may share a schema (writer and API processes).
 */
export class PostgresHistorian implements Historian {
  readonly #pool: pg.Pool;
  readonly #log: Logger;
  readonly #s: string;
  readonly #partitionMs: number;
  readonly #appendTimeoutMs: number;
  readonly #sids = new Map<SignalId, number>();
  readonly #paths = new Map<number, SignalId>();
  readonly #partitions = new Set<number>();
  readonly #staged = new WeakSet<pg.PoolClient>();
  readonly #listening = new WeakSet<pg.PoolClient>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #refreshChain: Promise<void> = Promise.resolve();

  private constructor(pool: pg.Pool, options: PostgresHistorianOptions) {
    this.#pool = pool;
    this.#s = `"${(options.schema ?? 'gemba').replaceAll('"', '""')}"`;
    this.#log = (options.logger ?? silentLogger()).child({
      component: 'historian.postgres',
      schema: options.schema ?? 'gemba',
    });
    this.#partitionMs = options.partitionMs ?? DAY_MS;
    this.#appendTimeoutMs = options.appendTimeoutMs ?? 120_000;
  }

  /** Connects and creates the schema if missing. Throws `GEMBA_HISTORIAN_UNAVAILABLE` when it cannot. */
  static async open(options: PostgresHistorianOptions): Promise<PostgresHistorian> {
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.maxConnections ?? 4,
      // Waiting for a pooled connection fails after this instead of hanging.
      connectionTimeoutMillis: options.connectTimeoutMs ?? 30_000,
    });
    const h = new PostgresHistorian(pool, options);
    // Idle clients see the server go away (restart); the pool replaces them.
    pool.on('error', (err) => h.#log.warn({ err }, 'idle connection lost'));
    try {
      await h.#init();
    } catch (err: unknown) {
      await pool.end().catch(() => undefined);
      throw new GembaError(
        'GEMBA_HISTORIAN_UNAVAILABLE',
        `cannot open the PostgreSQL historian at ${redact(options.url)}`,
        {
          cause: err,
        },
      );
    }
    const interval = options.rollupIntervalMs ?? 1000;
    if (interval > 0) {
      h.#timer = setInterval(() => {
        h.#chainRefresh(true).catch((err: unknown) => h.#log.warn({ err }, 'rollup refresh failed'));
      }, interval);
      h.#timer.unref();
    }
    return h;
  }

  async #init(): Promise<void> {
    const s = this.#s;
    const rollup = (r: string): string =>
      `CREATE TABLE IF NOT EXISTS ${s}.rollup_${r} (sid int4 NOT NULL, bucket int8 NOT NULL, n int8 NOT NULL, mean float8, m2 float8, ` +
      `mn float8, mx float8, first float8, first_ts int8, last float8, last_ts int8, PRIMARY KEY (sid, bucket))`;
    const client = await this.#connect();
    try {
      await client.query('BEGIN');
      // One schema creation at a time across instances.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`gemba-historian-init:${s}`]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${s}.meta (key text PRIMARY KEY, value float8 NOT NULL)`,
      );
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${s}.signals (id serial PRIMARY KEY, path text NOT NULL UNIQUE)`,
      );
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${s}.raw (sid int4 NOT NULL, ts int8 NOT NULL, num float8, str text, flags int2 NOT NULL, ` +
          'PRIMARY KEY (sid, ts)) PARTITION BY RANGE (ts)',
      );
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${s}.last_value (sid int4 PRIMARY KEY, ts int8 NOT NULL, num float8, str text, flags int2 NOT NULL)`,
      );
      for (const r of ['1s', '1m', '1h']) await client.query(rollup(r));
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${s}.dirty (id bigserial PRIMARY KEY, minute int8 NOT NULL)`,
      );
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${s}.events (id text PRIMARY KEY, kind text NOT NULL, source text NOT NULL, ts int8 NOT NULL, data jsonb NOT NULL)`,
      );
      await client.query(`CREATE INDEX IF NOT EXISTS events_ts ON ${s}.events (ts)`);
      await client.query('COMMIT');
    } catch (err: unknown) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  #checkOpen(): void {
    if (this.#closed)
      throw new GembaError('GEMBA_HISTORIAN_UNAVAILABLE', 'the PostgreSQL historian is closed');
  }

  #unavailable(what: string, err: unknown): GembaError {
    if (err instanceof GembaError) return err;
    return new GembaError('GEMBA_HISTORIAN_UNAVAILABLE', `PostgreSQL historian: ${what}`, { cause: err });
  }

  /** A pooled client with an error listener (a checked-out client whose server goes away emits 'error'). */
  async #connect(): Promise<pg.PoolClient> {
    const client = await this.#pool.connect();
    if (!this.#listening.has(client)) {
      this.#listening.add(client);
      client.on('error', (err) => this.#log.warn({ err }, 'connection lost'));
    }
    return client;
  }

  /** Ids of signal paths, creating the missing ones. */
  async #resolveSids(client: pg.PoolClient, paths: readonly SignalId[]): Promise<void> {
    const missing = [...new Set(paths.filter((p) => !this.#sids.has(p)))];
    if (missing.length === 0) return;
    await client.query(
      `INSERT INTO ${this.#s}.signals (path) SELECT unnest($1::text[]) ON CONFLICT (path) DO NOTHING`,
      [missing],
    );
    const r = await client.query(`SELECT id, path FROM ${this.#s}.signals WHERE path = ANY($1::text[])`, [
      missing,
    ]);
    for (const row of r.rows as { id: number; path: string }[]) {
      this.#sids.set(row.path, row.id);
      this.#paths.set(row.id, row.path);
    }
  }

  async #loadPaths(sids: readonly number[]): Promise<void> {
    const missing = sids.filter((x) => !this.#paths.has(x));
    if (missing.length === 0) return;
    const r = await this.#pool.query(`SELECT id, path FROM ${this.#s}.signals WHERE id = ANY($1::int4[])`, [
      missing,
    ]);
    for (const row of r.rows as { id: number; path: string }[]) {
      this.#sids.set(row.path, row.id);
      this.#paths.set(row.id, row.path);
    }
  }

  async #knownSids(signals: readonly SignalId[]): Promise<number[]> {
    const unknown = [...new Set(signals)].filter((p) => !this.#sids.has(p));
    if (unknown.length > 0) {
      const r = await this.#pool.query(
        `SELECT id, path FROM ${this.#s}.signals WHERE path = ANY($1::text[])`,
        [unknown],
      );
      for (const row of r.rows as { id: number; path: string }[]) {
        this.#sids.set(row.path, row.id);
        this.#paths.set(row.id, row.path);
      }
    }
    const out: number[] = [];
    for (const p of new Set(signals)) {
      const sid = this.#sids.get(p);
      if (sid !== undefined) out.push(sid);
    }
    return out;
  }

  async append(batch: SampleBatch): Promise<void> {
    this.#checkOpen();
    const n = batch.length;
    if (n === 0) return;
    let client: pg.PoolClient;
    try {
      client = await this.#connect();
    } catch (err: unknown) {
      throw this.#unavailable('cannot connect', err);
    }
    const work = this.#appendOn(client, batch);
    work.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new GembaError(
              'GEMBA_HISTORIAN_UNAVAILABLE',
              `append did not finish within ${this.#appendTimeoutMs} ms`,
            ),
          ),
        this.#appendTimeoutMs,
      );
    });
    try {
      await Promise.race([work, timeout]);
      client.release();
    } catch (err: unknown) {
      // The connection may be inside the transaction or stuck (a COPY whose server went away):
      // discard it; the server rolls the transaction back.
      client.release(true);
      throw this.#unavailable('append failed', err);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The append's transaction on `client`; throws without cleaning up (the caller discards the client). */
  async #appendOn(client: pg.PoolClient, batch: SampleBatch): Promise<void> {
    const n = batch.length;
    await this.#resolveSids(client, batch.signals);
    const sidOf = new Int32Array(n);
    // Rows must be unique per (sid, ts) within one upsert; detect repeats inside the batch.
    const lastInBatch = new Map<number, number>();
    let needsDedup = false;
    const latestRow = new Map<number, number>();
    const minutes = new Set<number>();
    const starts = new Set<number>();
    let lastMinute = Number.NaN;
    for (let i = 0; i < n; i++) {
      const sid = this.#sids.get(batch.signals[i] as string) as number;
      sidOf[i] = sid;
      const ts = Math.round(batch.ts[i] as number);
      const prev = lastInBatch.get(sid);
      if (prev !== undefined && ts <= prev) needsDedup = true;
      lastInBatch.set(sid, ts);
      // The batch's latest row per signal (a later row wins a tie), for last_value.
      const li = latestRow.get(sid);
      if (li === undefined || ts >= Math.round(batch.ts[li] as number)) latestRow.set(sid, i);
      const m = floorTo(ts, MINUTE_MS);
      if (m !== lastMinute) {
        lastMinute = m;
        minutes.add(m);
        starts.add(floorTo(ts, this.#partitionMs));
      }
    }
    for (const start of starts) await this.#ensurePartition(client, start);
    const s = this.#s;
    await client.query('BEGIN');
    if (!this.#staged.has(client)) {
      await client.query(
        'CREATE TEMP TABLE IF NOT EXISTS staging (sid int4, ts int8, num float8, str text, flags int2) ON COMMIT DELETE ROWS',
      );
      this.#staged.add(client);
    }
    await pipeline(
      Readable.from([encodeCopyBinary(batch, sidOf)]),
      client.query(copyFrom('COPY staging FROM STDIN BINARY')),
    );
    const source = needsDedup
      ? `(SELECT DISTINCT ON (sid, ts) sid, ts, num, str, flags FROM (SELECT *, row_number() OVER () AS seq FROM staging) x ORDER BY sid, ts, seq DESC) d`
      : 'staging';
    await client.query(
      `INSERT INTO ${s}.raw SELECT sid, ts, num, str, flags FROM ${source} ` +
        'ON CONFLICT (sid, ts) DO UPDATE SET num = EXCLUDED.num, str = EXCLUDED.str, flags = EXCLUDED.flags',
    );
    await client.query(
      `INSERT INTO ${s}.last_value SELECT * FROM unnest($1::int4[], $2::int8[], $3::float8[], $4::text[], $5::int2[]) ` +
        `ON CONFLICT (sid) DO UPDATE SET ts = EXCLUDED.ts, num = EXCLUDED.num, str = EXCLUDED.str, flags = EXCLUDED.flags ` +
        `WHERE EXCLUDED.ts >= ${s}.last_value.ts`,
      lastValueColumns(batch, latestRow),
    );
    await client.query(`INSERT INTO ${s}.dirty (minute) SELECT unnest($1::int8[])`, [[...minutes]]);
    await client.query('COMMIT');
  }

  async #ensurePartition(client: pg.PoolClient, start: number): Promise<void> {
    if (this.#partitions.has(start)) return;
    const name = `raw_${start}`;
    const s = this.#s;
    const exists = async (): Promise<boolean> => {
      const r = await client.query(
        'SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace ' +
          'WHERE n.nspname = $1 AND c.relname = $2',
        [this.#schemaName(), name],
      );
      return r.rows.length > 0;
    };
    if (!(await exists())) {
      // CREATE TABLE … PARTITION OF would lock the parent against every reader and writer;
      // ATTACH PARTITION (PostgreSQL ≥ 12) takes a lock that lets them run.
      try {
        await client.query('BEGIN');
        await client.query(`CREATE TABLE IF NOT EXISTS ${s}.${name} (LIKE ${s}.raw INCLUDING DEFAULTS)`);
        await client.query(
          `ALTER TABLE ${s}.raw ATTACH PARTITION ${s}.${name} FOR VALUES FROM (${start}) TO (${start + this.#partitionMs})`,
        );
        await client.query('COMMIT');
      } catch (err: unknown) {
        await client.query('ROLLBACK').catch(() => undefined);
        // Another instance may have created it at the same moment.
        if (!(await exists())) throw err;
      }
    }
    this.#partitions.add(start);
  }

  #schemaName(): string {
    return this.#s.slice(1, -1).replaceAll('""', '"');
  }

  async #floors(client: pg.ClientBase | pg.Pool = this.#pool): Promise<Floors> {
    const f: Floors = { raw: NO_FLOOR, r1s: NO_FLOOR, r1m: NO_FLOOR, r1h: NO_FLOOR };
    const r = await client.query(`SELECT key, value FROM ${this.#s}.meta`);
    for (const row of r.rows as { key: string; value: number }[]) {
      if (row.key === 'floor_raw') f.raw = row.value;
      if (row.key === 'floor_1s') f.r1s = row.value;
      if (row.key === 'floor_1m') f.r1m = row.value;
      if (row.key === 'floor_1h') f.r1h = row.value;
    }
    return f;
  }

  /** Brings the 1 min and 1 h rollups up to date with the data appended so far (also runs on a timer). */
  refreshRollups(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    // Chained, not shared: a refresh already running may have read the dirty minutes before the
    // caller's appends committed, so the caller's refresh starts after it.
    return this.#chainRefresh(false);
  }

  /** With `onlyClosed` (the timer) the latest dirty minute, usually still filling, is left for later. */
  #chainRefresh(onlyClosed: boolean): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const next = this.#refreshChain.then(() => this.#refresh(onlyClosed));
    this.#refreshChain = next.catch(() => undefined);
    return next;
  }

  async #refresh(onlyClosed: boolean): Promise<void> {
    const s = this.#s;
    // The exact rows read are deleted afterwards: with several writers, ids do not commit in
    // order, so a row with a smaller id may still appear after this read.
    const d = await this.#pool.query(`SELECT id, minute FROM ${s}.dirty`);
    if (d.rows.length === 0) return;
    const idsByMinute = new Map<number, string[]>();
    for (const r of d.rows as { id: string; minute: string }[]) {
      const m = toNumber(r.minute);
      const ids = idsByMinute.get(m);
      if (ids === undefined) idsByMinute.set(m, [r.id]);
      else ids.push(r.id);
    }
    // One short transaction per range of at most six hours, so appends are not held up for long.
    const all = [...idsByMinute.keys()].sort((a, b) => a - b);
    if (onlyClosed) all.pop();
    for (const [a, b] of bridgeRanges(all, MINUTE_MS, HOUR_MS, 6 * HOUR_MS)) {
      await this.#refreshRange(
        a,
        b,
        all.filter((m) => m >= a && m < b),
        idsByMinute,
      );
    }
  }

  async #refreshRange(
    fromMs: number,
    toMs: number,
    chunk: readonly number[],
    idsByMinute: ReadonlyMap<number, string[]>,
  ): Promise<void> {
    const s = this.#s;
    const client = await this.#connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`gemba-historian-rollup:${s}`]);
      const f = await this.#floors(client);
      const minFloor = Math.ceil(f.raw / MINUTE_MS) * MINUTE_MS;
      const a = Math.max(fromMs, minFloor, Math.ceil(f.r1m / MINUTE_MS) * MINUTE_MS);
      const b = toMs;
      const hourFloor = Math.ceil(f.r1m / HOUR_MS) * HOUR_MS;
      const hours = [...new Set(chunk.filter((m) => m >= a).map((m) => floorTo(m, HOUR_MS)))]
        .filter((h) => h >= hourFloor && h >= f.r1h)
        .sort((x, y) => x - y);
      if (a < b) {
        await client.query(`DELETE FROM ${s}.rollup_1m WHERE bucket >= ${a} AND bucket < ${b}`);
        await client.query(
          `INSERT INTO ${s}.rollup_1m SELECT ${RAW_AGG(MINUTE_MS)} FROM ${s}.raw WHERE ts >= ${a} AND ts < ${b} AND ${AGG_WHERE} GROUP BY 1, 2`,
        );
      }
      for (const [a, b] of bridgeRanges(hours, HOUR_MS, HOUR_MS, 7 * 24 * HOUR_MS)) {
        await client.query(`DELETE FROM ${s}.rollup_1h WHERE bucket >= ${a} AND bucket < ${b}`);
        await client.query(
          `INSERT INTO ${s}.rollup_1h ${mergeSql(`${s}.rollup_1m`, HOUR_MS, `bucket >= ${a} AND bucket < ${b}`)}`,
        );
      }
      const ids = chunk.flatMap((m) => idsByMinute.get(m) ?? []);
      await client.query(`DELETE FROM ${s}.dirty WHERE id = ANY($1::int8[])`, [ids]);
      await client.query('COMMIT');
    } catch (err: unknown) {
      broken = true;
      await client.query('ROLLBACK').catch(() => undefined);
      throw this.#unavailable('rollup refresh failed', err);
    } finally {
      client.release(broken);
    }
  }

  async queryRaw(signal: SignalId, range: TimeRange, limit?: number): Promise<Sample[]> {
    this.#checkOpen();
    checkRange(range);
    const [sid] = await this.#knownSids([signal]);
    if (sid === undefined) return [];
    const lim = limit === undefined ? '' : ` LIMIT ${Math.max(0, Math.floor(limit))}`;
    const r = await this.#pool.query(
      `SELECT ts, num, str, flags FROM ${this.#s}.raw WHERE sid = $1 AND ts >= $2 AND ts < $3 ORDER BY ts${lim}`,
      [sid, lit(range.fromMs), lit(range.toMs)],
    );
    return (r.rows as { ts: string; num: number | null; str: string | null; flags: number }[]).map((x) =>
      toSample(signal, toNumber(x.ts), x.num ?? Number.NaN, x.str, x.flags),
    );
  }

  async #toRows(rows: Record<string, unknown>[]): Promise<BucketRow[]> {
    await this.#loadPaths([...new Set(rows.map((r) => toNumber(r.sid)))]);
    const out = rows.map((r) => {
      const count = toNumber(r.n);
      return {
        signal: this.#paths.get(toNumber(r.sid)) as string,
        bucketMs: toNumber(r.bucket),
        count,
        mean: toNumber(r.mean),
        min: toNumber(r.mn),
        max: toNumber(r.mx),
        first: toNumber(r.first),
        last: toNumber(r.last),
        stddev: stddevOf(count, toNumber(r.m2)),
      };
    });
    return out.sort((a, b) => (a.signal < b.signal ? -1 : a.signal > b.signal ? 1 : a.bucketMs - b.bucketMs));
  }

  #rawBucketsSql(sids: readonly number[], fromMs: number, toMs: number, width: number): string {
    return (
      `SELECT ${RAW_AGG(width)} FROM ${this.#s}.raw WHERE sid = ANY('{${sids.join(',')}}'::int4[]) ` +
      `AND ts >= ${lit(fromMs)} AND ts < ${lit(toMs)} AND ${AGG_WHERE} GROUP BY 1, 2`
    );
  }

  async queryBuckets(signals: readonly SignalId[], range: TimeRange, bucketMs: number): Promise<BucketRow[]> {
    this.#checkOpen();
    checkRange(range);
    checkBucket(bucketMs);
    const sids = await this.#knownSids(signals);
    if (sids.length === 0 || range.toMs <= range.fromMs) return [];
    const aligned = (w: number): boolean =>
      bucketMs % w === 0 && range.fromMs % w === 0 && range.toMs % w === 0;
    if (aligned(MINUTE_MS)) {
      const f = await this.#floors();
      for (const [w, table, floor] of [
        [HOUR_MS, 'rollup_1h', f.r1h],
        [MINUTE_MS, 'rollup_1m', Math.max(f.r1m, f.raw)],
      ] as const) {
        if (aligned(w) && range.fromMs >= floor) {
          await this.refreshRollups();
          const where = `sid = ANY('{${sids.join(',')}}'::int4[]) AND bucket >= ${lit(range.fromMs)} AND bucket < ${lit(range.toMs)}`;
          const r = await this.#pool.query(
            bucketMs === w
              ? `SELECT ${ROLLUP_COLS} FROM ${this.#s}.${table} WHERE ${where}`
              : mergeSql(`${this.#s}.${table}`, bucketMs, where),
          );
          return this.#toRows(r.rows);
        }
      }
    }
    const r = await this.#pool.query(this.#rawBucketsSql(sids, range.fromMs, range.toMs, bucketMs));
    return this.#toRows(r.rows);
  }

  async queryRollup(
    signals: readonly SignalId[],
    resolution: RollupResolution,
    range: TimeRange,
  ): Promise<BucketRow[]> {
    this.#checkOpen();
    checkRange(range);
    if (!(resolution in ROLLUP_MS)) {
      throw new GembaError('GEMBA_HISTORIAN_QUERY', `unknown rollup resolution '${String(resolution)}'`);
    }
    const sids = await this.#knownSids(signals);
    if (sids.length === 0) return [];
    const f = await this.#floors();
    const inSids = `sid = ANY('{${sids.join(',')}}'::int4[])`;
    if (resolution === '1s') {
      const rawFloor = Math.ceil(f.raw / 1000) * 1000;
      const from = Math.max(range.fromMs, f.r1s);
      const lo = Math.ceil(Math.max(from, rawFloor) / 1000) * 1000;
      const hi = Math.ceil(range.toMs / 1000) * 1000;
      const parts = [
        `SELECT ${ROLLUP_COLS} FROM ${this.#s}.rollup_1s WHERE ${inSids} AND bucket >= ${lit(from)} AND bucket < ${lit(Math.min(range.toMs, rawFloor))}`,
      ];
      if (lo < hi) parts.push(this.#rawBucketsSql(sids, lo, hi, 1000));
      const r = await this.#pool.query(parts.join(' UNION ALL '));
      return this.#toRows(r.rows);
    }
    await this.refreshRollups();
    const floor = resolution === '1m' ? f.r1m : f.r1h;
    const r = await this.#pool.query(
      `SELECT ${ROLLUP_COLS} FROM ${this.#s}.rollup_${resolution} WHERE ${inSids} AND bucket >= ${lit(Math.max(range.fromMs, floor))} AND bucket < ${lit(range.toMs)}`,
    );
    return this.#toRows(r.rows);
  }

  async lastValues(signals?: readonly SignalId[]): Promise<Sample[]> {
    this.#checkOpen();
    const base = `SELECT s.path, l.ts, l.num, l.str, l.flags FROM ${this.#s}.last_value l JOIN ${this.#s}.signals s ON s.id = l.sid`;
    const r =
      signals === undefined
        ? await this.#pool.query(base)
        : await this.#pool.query(`${base} WHERE s.path = ANY($1::text[])`, [[...new Set(signals)]]);
    return (r.rows as { path: string; ts: string; num: number | null; str: string | null; flags: number }[])
      .map((x) => toSample(x.path, toNumber(x.ts), x.num ?? Number.NaN, x.str, x.flags))
      .sort((a, b) => (a.signal < b.signal ? -1 : a.signal > b.signal ? 1 : 0));
  }

  async appendEvents(events: readonly HistorianEvent[]): Promise<void> {
    this.#checkOpen();
    if (events.length === 0) return;
    // Later entries with the same id win, as if appended one after the other.
    const byId = new Map<string, HistorianEvent>();
    for (const e of events) byId.set(e.id, e);
    const list = [...byId.values()];
    try {
      await this.#pool.query(
        `INSERT INTO ${this.#s}.events (id, kind, source, ts, data) ` +
          'SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::jsonb[]) ' +
          'ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, source = EXCLUDED.source, ts = EXCLUDED.ts, data = EXCLUDED.data',
        [
          list.map((e) => e.id),
          list.map((e) => e.kind),
          list.map((e) => e.source),
          list.map((e) => Math.round(e.ts)),
          list.map((e) => JSON.stringify(e.data)),
        ],
      );
    } catch (err: unknown) {
      throw this.#unavailable('cannot append events', err);
    }
  }

  async queryEvents(
    query: TimeRange & { kind?: EventKind; sourcePrefix?: string; limit?: number },
  ): Promise<HistorianEvent[]> {
    this.#checkOpen();
    checkRange(query);
    const params: unknown[] = [lit(query.fromMs), lit(query.toMs)];
    const where = ['ts >= $1', 'ts < $2'];
    if (query.kind !== undefined) {
      params.push(query.kind);
      where.push(`kind = $${params.length}`);
    }
    if (query.sourcePrefix !== undefined) {
      const p = query.sourcePrefix.endsWith('/') ? query.sourcePrefix.slice(0, -1) : query.sourcePrefix;
      if (p !== '') {
        params.push(p, `${p}/`);
        where.push(`(source = $${params.length - 1} OR starts_with(source, $${params.length}))`);
      }
    }
    const lim = query.limit === undefined ? '' : ` LIMIT ${Math.max(0, Math.floor(query.limit))}`;
    const r = await this.#pool.query(
      `SELECT id, kind, source, ts, data FROM ${this.#s}.events WHERE ${where.join(' AND ')} ORDER BY ts, id COLLATE "C"${lim}`,
      params,
    );
    return (
      r.rows as { id: string; kind: EventKind; source: string; ts: string; data: Record<string, unknown> }[]
    ).map((x) => ({ id: x.id, kind: x.kind, source: x.source, ts: toNumber(x.ts), data: x.data }));
  }

  async applyRetention(policy: RetentionPolicy, nowMs: number): Promise<void> {
    this.#checkOpen();
    await this.refreshRollups();
    const s = this.#s;
    const rawCut = nowMs - policy.rawMs;
    const cut1s = nowMs - policy.rollupMs['1s'];
    const cut1m = nowMs - policy.rollupMs['1m'];
    const cut1h = nowMs - policy.rollupMs['1h'];
    const client = await this.#connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`gemba-historian-rollup:${s}`]);
      const f = await this.#floors(client);
      if (rawCut > f.raw) {
        // Keep 1 s rollups of the raw data about to go (the bucket holding the cut included).
        const hi = Math.ceil(rawCut / 1000) * 1000;
        const from = Math.floor(Math.max(cut1s, f.raw) / 1000) * 1000;
        if (from < hi) {
          await client.query(`DELETE FROM ${s}.rollup_1s WHERE bucket >= ${lit(from)} AND bucket < ${hi}`);
          await client.query(
            `INSERT INTO ${s}.rollup_1s SELECT ${RAW_AGG(1000)} FROM ${s}.raw WHERE ts >= ${lit(from)} AND ts < ${hi} AND ${AGG_WHERE} GROUP BY 1, 2`,
          );
        }
        // Whole partitions below the cut are dropped; the one holding the cut is trimmed.
        const parts = await client.query(
          `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent ` +
            `JOIN pg_namespace n ON n.oid = p.relnamespace WHERE p.relname = 'raw' AND n.nspname = $1`,
          [s.slice(1, -1).replaceAll('""', '"')],
        );
        for (const { relname } of parts.rows as { relname: string }[]) {
          const start = Number(relname.slice(4));
          if (start + this.#partitionMs <= rawCut) {
            await client.query(`DROP TABLE IF EXISTS ${s}.${relname}`);
            this.#partitions.delete(start);
          } else if (start < rawCut) {
            await client.query(`DELETE FROM ${s}.${relname} WHERE ts < ${rawCut}`);
          }
        }
      }
      await client.query(`DELETE FROM ${s}.rollup_1s WHERE bucket < ${lit(cut1s)}`);
      await client.query(`DELETE FROM ${s}.rollup_1m WHERE bucket < ${lit(cut1m)}`);
      await client.query(`DELETE FROM ${s}.rollup_1h WHERE bucket < ${lit(cut1h)}`);
      await client.query(`DELETE FROM ${s}.events WHERE ts < ${lit(nowMs - policy.eventsMs)}`);
      await client.query(
        `INSERT INTO ${s}.meta VALUES ('floor_raw', $1), ('floor_1s', $2), ('floor_1m', $3), ('floor_1h', $4) ` +
          'ON CONFLICT (key) DO UPDATE SET value = greatest(meta.value, EXCLUDED.value)',
        [lit(rawCut), lit(cut1s), lit(cut1m), lit(cut1h)],
      );
      await client.query('COMMIT');
    } catch (err: unknown) {
      broken = true;
      await client.query('ROLLBACK').catch(() => undefined);
      throw this.#unavailable('retention failed', err);
    } finally {
      client.release(broken);
    }
  }

  /** Bytes the schema's tables and indexes take on disk. */
  async sizeBytes(): Promise<number> {
    const r = await this.#pool.query(
      'SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace ' +
        "WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'm')",
      [this.#s.slice(1, -1).replaceAll('""', '"')],
    );
    return toNumber((r.rows[0] as { bytes: string }).bytes);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    try {
      await this.refreshRollups();
    } catch (err: unknown) {
      this.#log.warn({ err }, 'rollup refresh at close failed');
    }
    this.#closed = true;
    await this.#pool.end();
  }
}

/** Columns of the latest row per signal, for one `unnest` upsert into `last_value`. */
function lastValueColumns(batch: SampleBatch, latestRow: ReadonlyMap<number, number>): unknown[] {
  const sids: number[] = [];
  const ts: string[] = [];
  const num: (number | null)[] = [];
  const str: (string | null)[] = [];
  const flags: number[] = [];
  for (const [sid, i] of latestRow) {
    sids.push(sid);
    ts.push(String(Math.round(batch.ts[i] as number)));
    const v = batch.num[i] as number;
    num.push(Number.isNaN(v) ? null : v);
    str.push(batch.str?.[i] ?? null);
    flags.push(packFlags(batch.kind[i] as number, batch.quality[i] as number));
  }
  return [sids, ts, num, str, flags];
}

function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}

/**
 * Opens the PostgreSQL historian (creating its schema and tables when missing).
 *
 * @example
 * const historian = await openPostgresHistorian({ url: 'postgres://gemba@db/gemba', logger });
 */
export function openPostgresHistorian(options: PostgresHistorianOptions): Promise<PostgresHistorian> {
  return PostgresHistorian.open(options);
}
