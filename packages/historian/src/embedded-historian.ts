import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import {
  type BucketRow,
  type EventKind,
  eventMatchesSource,
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
import {
  AGGREGATABLE_SQL,
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
import { RawChunkWriter } from './raw-chunk-writer.ts';
import { SerialQueue } from './serial-queue.ts';

/** Options of {@link openEmbeddedHistorian}. */
export interface EmbeddedHistorianOptions {
  /** The folder holding the store (created if missing); the database is `historian.duckdb` in it. */
  dir: string;
  logger?: Logger;
  /** How often rollups catch up with newly arrived data, ms; default 1000. Queries catch up first anyway. */
  rollupIntervalMs?: number;
  /** Width of a raw partition (one table), ms; default one day (UTC). */
  partitionMs?: number;
  /**
   * A partition is closed, and then sorted by (signal, time), once data this much newer than its
   * end has arrived, ms; default one hour.
   */
  closeAfterMs?: number;
  /** DuckDB's memory limit (it spills to disk beyond it), e.g. `'2GB'`; default `'2GB'`. */
  memoryLimit?: string;
}

/** Events per multi-row INSERT in appendEvents. */
const EVENT_ROWS_PER_INSERT = 500;
const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

const RAW_COLUMNS =
  'sid INTEGER NOT NULL, ts BIGINT NOT NULL, num DOUBLE, str VARCHAR, flags UTINYINT NOT NULL';
const ROLLUP_COLUMNS =
  'sid INTEGER NOT NULL, bucket BIGINT NOT NULL, n BIGINT NOT NULL, total DOUBLE, m2 DOUBLE, mn DOUBLE, mx DOUBLE, ' +
  'first DOUBLE, last DOUBLE';
/**
 * Rollup columns as stored: the sum (not the mean) because sums of decimal sensor values stay
 * decimal and compress (ALP); no first/last times because rollup buckets never overlap, so the
 * first/last of a merge is that of its earliest/latest bucket.
 */
const ROLLUP_SELECT = 'sid, bucket, n, total, m2, mn, mx, first, last';
/** Rollup columns computed from raw rows (`num`, `ts`) grouped by `sid` and a bucket expression. */
const RAW_AGG_SQL =
  'count(*) AS n, sum(num) AS total, var_pop(num) * count(*) AS m2, min(num) AS mn, max(num) AS mx, ' +
  'arg_min(num, ts) AS first, arg_max(num, ts) AS last';

/** SQL merging rollup rows of `table` (bucket width dividing `widthMs`) into buckets of `widthMs`. */
function mergeSql(table: string, widthMs: number, where: string): string {
  const b = `CAST(floor(bucket / ${widthMs}) AS BIGINT) * ${widthMs}`;
  return (
    `SELECT sid, b AS bucket, CAST(sum(n) AS BIGINT) AS n, sum(total) AS total, ` +
    `sum(m2 + n * (total / n - gm) * (total / n - gm)) AS m2, min(mn) AS mn, max(mx) AS mx, ` +
    `arg_min(first, src) AS first, arg_max(last, src) AS last ` +
    `FROM (SELECT *, bucket AS src, ${b} AS b, sum(total) OVER w / sum(n) OVER w AS gm FROM ${table} WHERE ${where} ` +
    `WINDOW w AS (PARTITION BY sid, ${b})) GROUP BY sid, b`
  );
}

/** A finite SQL literal for a time bound (floors start at minus infinity). */
function lit(ms: number): string {
  return String(Math.min(9e15, Math.max(-9e15, ms)));
}

function quote(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

interface Partition {
  start: number;
  name: string;
  sorted: boolean;
}

/**
 * The embedded historian: a DuckDB database in a folder, nothing to install.
 *
 * Layout: raw samples in one table per time partition (`raw_<startMs>`, columns `sid`, `ts`
 * ms, `num`, `str`, `flags`), sorted by (signal, time) once closed so one-signal scans skip
 * most row groups; 1 min and 1 h rollups in `rollup_1m` / `rollup_1h`, recomputed for the
 * minutes that received data; 1 s rollups computed from raw while raw exists and kept in
 * `rollup_1s` when retention removes the raw data under them; events in `events`.
 *
 * Idempotence: a sample newer than its signal's latest stored time goes straight through the
 * appender; any other (a repeat, a late or an overwritten value) goes through a staging table and
 * replaces the stored row in one transaction. Last values are served from memory (loaded on open).
 */
export class EmbeddedHistorian implements Historian {
  readonly #db: DuckDBInstance;
  readonly #c: DuckDBConnection;
  readonly #log: Logger;
  readonly #dirPath: string;
  readonly #q = new SerialQueue();
  readonly #partitionMs: number;
  readonly #closeAfterMs: number;
  readonly #sids = new Map<SignalId, number>();
  readonly #paths: SignalId[] = [];
  readonly #lastTs: number[] = [];
  readonly #lastNum: number[] = [];
  readonly #lastStr: (string | null)[] = [];
  readonly #lastFlags: number[] = [];
  readonly #partitions = new Map<number, Partition>();
  readonly #dirty = new Set<number>();
  readonly #writer = new RawChunkWriter();
  #maxTs = Number.NEGATIVE_INFINITY;
  /** Retention floors (ms): data below them was removed; rollups are not recomputed below them. */
  #floors = {
    raw: Number.NEGATIVE_INFINITY,
    r1s: Number.NEGATIVE_INFINITY,
    r1m: Number.NEGATIVE_INFINITY,
    r1h: Number.NEGATIVE_INFINITY,
  };
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(db: DuckDBInstance, c: DuckDBConnection, options: EmbeddedHistorianOptions) {
    this.#db = db;
    this.#c = c;
    this.#dirPath = options.dir;
    this.#log = (options.logger ?? silentLogger()).child({
      component: 'historian.embedded',
      dir: options.dir,
    });
    this.#partitionMs = options.partitionMs ?? DAY_MS;
    this.#closeAfterMs = options.closeAfterMs ?? HOUR_MS;
  }

  /** Opens (or creates) the store in `options.dir`. Throws `GEMBA_HISTORIAN_UNAVAILABLE` when it cannot. */
  static async open(options: EmbeddedHistorianOptions): Promise<EmbeddedHistorian> {
    let db: DuckDBInstance;
    let c: DuckDBConnection;
    try {
      mkdirSync(options.dir, { recursive: true });
      db = await DuckDBInstance.create(join(options.dir, 'historian.duckdb'), {
        memory_limit: options.memoryLimit ?? '2GB',
      });
      c = await db.connect();
    } catch (err: unknown) {
      throw new GembaError(
        'GEMBA_HISTORIAN_UNAVAILABLE',
        `cannot open the embedded historian in ${options.dir}`,
        {
          cause: err,
        },
      );
    }
    const h = new EmbeddedHistorian(db, c, options);
    await h.#init();
    const interval = options.rollupIntervalMs ?? 1000;
    h.#timer = setInterval(() => {
      h.#q
        .run(() => h.#maintain(true))
        .catch((err: unknown) => h.#log.error({ err }, 'rollup/compaction failed'));
    }, interval);
    h.#timer.unref();
    return h;
  }

  async #rows(sql: string, params?: (string | number | boolean | null)[]): Promise<unknown[][]> {
    const r = await this.#c.runAndReadAll(sql, params);
    return r.getRows() as unknown[][];
  }

  async #init(): Promise<void> {
    const c = this.#c;
    await c.run('CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value DOUBLE)');
    await c.run('CREATE TABLE IF NOT EXISTS signals (id INTEGER PRIMARY KEY, path VARCHAR NOT NULL)');
    await c.run(
      'CREATE TABLE IF NOT EXISTS partitions (start_ms BIGINT PRIMARY KEY, name VARCHAR, sorted BOOLEAN)',
    );
    await c.run('CREATE TABLE IF NOT EXISTS dirty (minute BIGINT)');
    await c.run(`CREATE TABLE IF NOT EXISTS staging (${RAW_COLUMNS})`);
    for (const r of ['1s', '1m', '1h'])
      await c.run(`CREATE TABLE IF NOT EXISTS rollup_${r} (${ROLLUP_COLUMNS})`);
    await c.run(
      'CREATE TABLE IF NOT EXISTS events (id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, source VARCHAR NOT NULL, ts BIGINT NOT NULL, data VARCHAR)',
    );
    await c.run('DELETE FROM staging');
    for (const [id, path] of await this.#rows('SELECT id, path FROM signals ORDER BY id')) {
      const sid = toNumber(id);
      this.#sids.set(path as string, sid);
      this.#paths[sid] = path as string;
      this.#lastTs[sid] = Number.NEGATIVE_INFINITY;
    }
    for (const [start, name, sorted] of await this.#rows('SELECT start_ms, name, sorted FROM partitions')) {
      const s = toNumber(start);
      this.#partitions.set(s, { start: s, name: name as string, sorted: sorted === true });
    }
    for (const [key, value] of await this.#rows('SELECT key, value FROM meta')) {
      if (key === 'floor_raw') this.#floors.raw = toNumber(value);
      if (key === 'floor_1s') this.#floors.r1s = toNumber(value);
      if (key === 'floor_1m') this.#floors.r1m = toNumber(value);
      if (key === 'floor_1h') this.#floors.r1h = toNumber(value);
    }
    for (const [m] of await this.#rows('SELECT DISTINCT minute FROM dirty')) this.#dirty.add(toNumber(m));
    // Last values: newest partitions first until every signal is found.
    let missing = this.#sids.size;
    const parts = [...this.#partitions.values()].sort((a, b) => b.start - a.start);
    for (const p of parts) {
      if (missing === 0) break;
      const rows = await this.#rows(
        `SELECT sid, max(ts), arg_max(num, ts), arg_max(str, ts), arg_max(flags, ts) FROM ${p.name} GROUP BY sid`,
      );
      for (const [sidV, tsV, numV, strV, flagsV] of rows) {
        const sid = toNumber(sidV);
        const ts = toNumber(tsV);
        if (ts > this.#maxTs) this.#maxTs = ts;
        if ((this.#lastTs[sid] ?? Number.NEGATIVE_INFINITY) !== Number.NEGATIVE_INFINITY) continue;
        this.#setLast(sid, ts, toNumber(numV), (strV as string | null) ?? null, toNumber(flagsV));
        missing--;
      }
    }
    this.#log.info(
      { signals: this.#sids.size, partitions: this.#partitions.size },
      'embedded historian open',
    );
  }

  #setLast(sid: number, ts: number, num: number, str: string | null, flags: number): void {
    this.#lastTs[sid] = ts;
    this.#lastNum[sid] = num;
    this.#lastStr[sid] = str;
    this.#lastFlags[sid] = flags;
  }

  #checkOpen(): void {
    if (this.#closed) throw new GembaError('GEMBA_HISTORIAN_UNAVAILABLE', 'the embedded historian is closed');
  }

  /** The partition holding `start`, created (inside the caller's transaction) when missing. */
  async #ensurePartition(start: number, created: Map<number, Partition>): Promise<Partition> {
    const p = this.#partitions.get(start) ?? created.get(start);
    if (p !== undefined) return p;
    const fresh: Partition = { start, name: `raw_${start}`, sorted: false };
    await this.#c.run(`CREATE TABLE IF NOT EXISTS ${fresh.name} (${RAW_COLUMNS})`);
    await this.#c.run('INSERT OR REPLACE INTO partitions VALUES ($1, $2, false)', [start, fresh.name]);
    created.set(start, fresh);
    return fresh;
  }

  append(batch: SampleBatch): Promise<void> {
    return this.#q.run(() => this.#append(batch));
  }

  /**
   * One transaction per batch (the appender takes part in it), so a failed or interrupted
   * append leaves nothing behind and in-memory state changes only after the commit.
   */
  async #append(batch: SampleBatch): Promise<void> {
    this.#checkOpen();
    const n = batch.length;
    if (n === 0) return;
    const newSignals: [number, string][] = [];
    const sidOf = new Int32Array(n);
    const pendingSids = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const path = batch.signals[i] as string;
      let sid = this.#sids.get(path) ?? pendingSids.get(path);
      if (sid === undefined) {
        sid = this.#paths.length + newSignals.length;
        pendingSids.set(path, sid);
        newSignals.push([sid, path]);
      }
      sidOf[i] = sid;
    }
    // Classify rows: newer than the signal's latest stored time → append; otherwise replace.
    // Typed arrays indexed by signal id and range checks instead of maps and a division per row:
    // this loop runs for every sample.
    const pw = this.#partitionMs;
    const fastRows = new Int32Array(n);
    const fastStart = new Float64Array(n);
    let nFast = 0;
    let oneStart = true;
    const slow = new Map<string, number>();
    /** Per signal id: the batch row holding its newest value so far, or -1. */
    const lastRow = new Int32Array(this.#paths.length + newSignals.length).fill(-1);
    const lastSids: number[] = [];
    const minutes = new Set<number>();
    let mLo = Number.POSITIVE_INFINITY;
    let mHi = Number.NEGATIVE_INFINITY;
    let pLo = Number.POSITIVE_INFINITY;
    let pHi = Number.NEGATIVE_INFINITY;
    const tsCol = batch.ts;
    const storedTs = this.#lastTs;
    for (let i = 0; i < n; i++) {
      const sid = sidOf[i] as number;
      const ts = tsCol[i] as number;
      const li = lastRow[sid] as number;
      const lastTs = li < 0 ? (storedTs[sid] ?? Number.NEGATIVE_INFINITY) : (tsCol[li] as number);
      if (ts > lastTs) {
        if (!(ts >= pLo && ts < pHi)) {
          const start = floorTo(ts, pw);
          if (nFast > 0 && start !== pLo) oneStart = false;
          pLo = start;
          pHi = start + pw;
        }
        fastRows[nFast] = i;
        fastStart[nFast++] = pLo;
        if (li < 0) lastSids.push(sid);
        lastRow[sid] = i;
      } else {
        slow.set(`${sid}:${ts}`, i);
        if (ts === lastTs) {
          if (li < 0) lastSids.push(sid);
          lastRow[sid] = i;
        }
      }
      if (!(ts >= mLo && ts < mHi)) {
        const m = floorTo(ts, MINUTE_MS);
        mLo = m;
        mHi = m + MINUTE_MS;
        if (!this.#dirty.has(m)) minutes.add(m);
      }
    }
    const fast = new Map<number, Int32Array>();
    if (nFast > 0 && oneStart) fast.set(fastStart[0] as number, fastRows.subarray(0, nFast));
    else if (nFast > 0) {
      const groups = new Map<number, number[]>();
      for (let k = 0; k < nFast; k++) {
        const start = fastStart[k] as number;
        let rows = groups.get(start);
        if (rows === undefined) {
          rows = [];
          groups.set(start, rows);
        }
        rows.push(fastRows[k] as number);
      }
      for (const [start, rows] of groups) fast.set(start, Int32Array.from(rows));
    }
    const c = this.#c;
    const created = new Map<number, Partition>();
    const touched = new Set<Partition>();
    try {
      await c.run('BEGIN TRANSACTION');
      if (newSignals.length > 0) {
        const a = await c.createAppender('signals');
        for (const [sid, path] of newSignals) {
          a.appendInteger(sid);
          a.appendVarchar(path);
          a.endRow();
        }
        a.flushSync();
        a.closeSync();
      }
      // Minutes whose rollups must be recomputed are recorded with the data.
      if (minutes.size > 0)
        await c.run(`INSERT INTO dirty VALUES ${[...minutes].map((m) => `(${m})`).join(',')}`);
      for (const [start, rows] of fast) {
        const p = await this.#ensurePartition(start, created);
        const a = await c.createAppender(p.name);
        this.#writer.append(a, batch, rows, rows.length, sidOf);
        a.flushSync();
        a.closeSync();
        touched.add(p);
      }
      if (slow.size > 0) {
        const rows = [...slow.values()].sort((x, y) => x - y);
        for (const p of await this.#replace(batch, sidOf, rows, created)) touched.add(p);
      }
      for (const p of touched) {
        if (p.sorted) await c.run('UPDATE partitions SET sorted = false WHERE start_ms = $1', [p.start]);
      }
      await c.run('COMMIT');
    } catch (err: unknown) {
      await c.run('ROLLBACK').catch(() => undefined);
      throw this.#unavailable('append failed', err);
    }
    // Committed: bring the in-memory state along.
    for (const [sid, path] of newSignals) {
      this.#sids.set(path, sid);
      this.#paths[sid] = path;
      this.#lastTs[sid] = Number.NEGATIVE_INFINITY;
    }
    for (const [start, p] of created) this.#partitions.set(start, p);
    for (const p of touched) p.sorted = false;
    for (const m of minutes) this.#dirty.add(m);
    for (const sid of lastSids) {
      const i = lastRow[sid] as number;
      const ts = tsCol[i] as number;
      if (ts >= (this.#lastTs[sid] as number)) {
        this.#setLast(
          sid,
          ts,
          batch.num[i] as number,
          batch.str?.[i] ?? null,
          packFlags(batch.kind[i] as number, batch.quality[i] as number),
        );
      }
      if (ts > this.#maxTs) this.#maxTs = ts;
    }
  }

  /** Replaces stored rows with the given batch rows (deduplicated) inside the caller's transaction. */
  async #replace(
    batch: SampleBatch,
    sidOf: Int32Array,
    rows: readonly number[],
    created: Map<number, Partition>,
  ): Promise<Partition[]> {
    const c = this.#c;
    const a = await c.createAppender('staging');
    const byPartition = new Map<number, [number, number]>();
    this.#writer.append(a, batch, rows, rows.length, sidOf);
    for (const i of rows) {
      const ts = batch.ts[i] as number;
      const start = floorTo(ts, this.#partitionMs);
      const r = byPartition.get(start);
      if (r === undefined) byPartition.set(start, [ts, ts]);
      else {
        r[0] = Math.min(r[0], ts);
        r[1] = Math.max(r[1], ts);
      }
    }
    a.flushSync();
    a.closeSync();
    const out: Partition[] = [];
    for (const [start, [lo, hi]] of byPartition) {
      const p = await this.#ensurePartition(start, created);
      await c.run(
        `DELETE FROM ${p.name} WHERE ts >= ${lo} AND ts <= ${hi} AND (sid, ts) IN (SELECT sid, ts FROM staging)`,
      );
      await c.run(`INSERT INTO ${p.name} SELECT * FROM staging WHERE ts >= ${lo} AND ts <= ${hi}`);
      out.push(p);
    }
    await c.run('DELETE FROM staging');
    return out;
  }

  #unavailable(what: string, err: unknown): GembaError {
    if (err instanceof GembaError) return err;
    return new GembaError('GEMBA_HISTORIAN_UNAVAILABLE', `embedded historian: ${what}`, { cause: err });
  }

  /** Partitions overlapping [from, to) as one SQL relation, or undefined when none. */
  #rawRelation(fromMs: number, toMs: number): string | undefined {
    const names: string[] = [];
    for (const p of this.#partitions.values()) {
      if (p.start < toMs && p.start + this.#partitionMs > fromMs) names.push(p.name);
    }
    if (names.length === 0) return undefined;
    if (names.length === 1) return names[0];
    return `(${names.map((x) => `SELECT * FROM ${x}`).join(' UNION ALL ')})`;
  }

  #sidList(signals: readonly SignalId[]): number[] {
    const out: number[] = [];
    for (const s of new Set(signals)) {
      const sid = this.#sids.get(s);
      if (sid !== undefined) out.push(sid);
    }
    return out;
  }

  /**
   * Recomputes rollups of dirty minutes (1 min from raw, then 1 h from 1 min). With
   * `onlyClosed` (the timer) the latest dirty minute is left for later: it is usually still
   * filling, and recomputing it every second only churns storage.
   */
  async #refreshRollups(onlyClosed = false): Promise<void> {
    const all = [...this.#dirty].sort((a, b) => a - b);
    if (onlyClosed) all.pop();
    if (all.length === 0) return;
    const minFloor = Math.ceil(this.#floors.raw / MINUTE_MS) * MINUTE_MS;
    const minutes = all.filter((m) => m >= minFloor && m >= this.#floors.r1m);
    const hourFloor = Math.ceil(this.#floors.r1m / HOUR_MS) * HOUR_MS;
    const hours = [...new Set(minutes.map((m) => floorTo(m, HOUR_MS)))]
      .filter((h) => h >= hourFloor && h >= this.#floors.r1h)
      .sort((a, b) => a - b);
    const c = this.#c;
    await c.run('BEGIN TRANSACTION');
    try {
      for (const [a, b] of bridgeRanges(minutes, MINUTE_MS, HOUR_MS, 6 * HOUR_MS)) {
        await c.run(`DELETE FROM rollup_1m WHERE bucket >= ${a} AND bucket < ${b}`);
        const rel = this.#rawRelation(a, b);
        if (rel === undefined) continue;
        await c.run(
          `INSERT INTO rollup_1m SELECT sid, CAST(floor(ts / ${MINUTE_MS}) AS BIGINT) * ${MINUTE_MS} AS bucket, ${RAW_AGG_SQL} ` +
            `FROM ${rel} WHERE ts >= ${a} AND ts < ${b} AND ${AGGREGATABLE_SQL} GROUP BY sid, bucket ORDER BY sid, bucket`,
        );
      }
      for (const [a, b] of bridgeRanges(hours, HOUR_MS, HOUR_MS, 7 * 24 * HOUR_MS)) {
        await c.run(`DELETE FROM rollup_1h WHERE bucket >= ${a} AND bucket < ${b}`);
        await c.run(
          `INSERT INTO rollup_1h ${mergeSql('rollup_1m', HOUR_MS, `bucket >= ${a} AND bucket < ${b}`)} ORDER BY sid, bucket`,
        );
      }
      await c.run(`DELETE FROM dirty WHERE minute <= ${all[all.length - 1]}`);
      await c.run('COMMIT');
    } catch (err: unknown) {
      await c.run('ROLLBACK').catch(() => undefined);
      throw err;
    }
    for (const m of all) this.#dirty.delete(m);
  }

  /** Sorts closed partitions by (signal, time). */
  async #compact(): Promise<void> {
    for (const p of this.#partitions.values()) {
      if (p.sorted || p.start + this.#partitionMs + this.#closeAfterMs > this.#maxTs) continue;
      const c = this.#c;
      await c.run('BEGIN TRANSACTION');
      try {
        await c.run(`CREATE TABLE ${p.name}_sorted AS SELECT * FROM ${p.name} ORDER BY sid, ts`);
        await c.run(`DROP TABLE ${p.name}`);
        await c.run(`ALTER TABLE ${p.name}_sorted RENAME TO ${p.name}`);
        await c.run('UPDATE partitions SET sorted = true WHERE start_ms = $1', [p.start]);
        await c.run('COMMIT');
        p.sorted = true;
      } catch (err: unknown) {
        await c.run('ROLLBACK').catch(() => undefined);
        throw err;
      }
      this.#log.debug({ partition: p.name }, 'partition sorted by (signal, time)');
    }
  }

  async #maintain(onlyClosed = false): Promise<void> {
    if (this.#closed) return;
    await this.#refreshRollups(onlyClosed);
    await this.#compact();
  }

  /** Runs rollup catch-up and sorting of closed partitions now (they also run on a timer). */
  maintain(): Promise<void> {
    return this.#q.run(() => this.#maintain());
  }

  async queryRaw(signal: SignalId, range: TimeRange, limit?: number): Promise<Sample[]> {
    checkRange(range);
    return this.#q.run(async () => {
      this.#checkOpen();
      const sid = this.#sids.get(signal);
      const rel = this.#rawRelation(range.fromMs, range.toMs);
      if (sid === undefined || rel === undefined) return [];
      const lim = limit === undefined ? '' : ` LIMIT ${Math.max(0, Math.floor(limit))}`;
      const rows = await this.#rows(
        `SELECT ts, num, str, flags FROM ${rel} WHERE sid = ${sid} AND ts >= $1 AND ts < $2 ORDER BY ts${lim}`,
        [range.fromMs, range.toMs],
      );
      return rows.map(([ts, num, str, flags]) =>
        toSample(signal, toNumber(ts), toNumber(num), (str as string | null) ?? null, toNumber(flags)),
      );
    });
  }

  /**
   * Bucket rows from a query with the rollup columns; read column-wise (several times faster
   * than row-wise conversion for tens of thousands of rows).
   */
  async #bucketRows(sql: string): Promise<BucketRow[]> {
    const cols = (
      await this.#c.runAndReadAll(`SELECT * FROM (${sql}) ORDER BY sid, bucket`)
    ).getColumns() as unknown[][];
    const [sid, bucket, n, total, m2, mn, mx, first, last] = cols as [
      unknown[],
      unknown[],
      unknown[],
      unknown[],
      unknown[],
      unknown[],
      unknown[],
      unknown[],
      unknown[],
    ];
    const len = sid?.length ?? 0;
    const out: BucketRow[] = new Array(len);
    for (let i = 0; i < len; i++) {
      const count = toNumber(n[i]);
      out[i] = {
        signal: this.#paths[toNumber(sid[i])] as string,
        bucketMs: toNumber(bucket[i]),
        count,
        mean: toNumber(total[i]) / count,
        min: toNumber(mn[i]),
        max: toNumber(mx[i]),
        first: toNumber(first[i]),
        last: toNumber(last[i]),
        stddev: stddevOf(count, toNumber(m2[i])),
      };
    }
    // Rows come grouped by signal id in bucket order: order the groups by path.
    const runs: BucketRow[][] = [];
    for (const row of out) {
      const run = runs[runs.length - 1];
      if (run !== undefined && run[0]?.signal === row.signal) run.push(row);
      else runs.push([row]);
    }
    runs.sort((x, y) => ((x[0]?.signal ?? '') < (y[0]?.signal ?? '') ? -1 : 1));
    return runs.flat();
  }

  #rawBucketsSql(sids: readonly number[], fromMs: number, toMs: number, widthMs: number): string | undefined {
    const rel = this.#rawRelation(fromMs, toMs);
    if (rel === undefined) return undefined;
    return (
      `SELECT sid, CAST(floor(ts / ${widthMs}) AS BIGINT) * ${widthMs} AS bucket, ${RAW_AGG_SQL} FROM ${rel} ` +
      `WHERE sid IN (${sids.join(',')}) AND ts >= ${fromMs} AND ts < ${toMs} AND ${AGGREGATABLE_SQL} GROUP BY sid, bucket`
    );
  }

  async queryBuckets(signals: readonly SignalId[], range: TimeRange, bucketMs: number): Promise<BucketRow[]> {
    checkRange(range);
    checkBucket(bucketMs);
    return this.#q.run(async () => {
      this.#checkOpen();
      const sids = this.#sidList(signals);
      if (sids.length === 0 || range.toMs <= range.fromMs) return [];
      const aligned = (w: number): boolean =>
        bucketMs % w === 0 && range.fromMs % w === 0 && range.toMs % w === 0;
      // Whole minutes or hours above the retention floors come from the rollups (far fewer rows).
      for (const [w, table, floor] of [
        [HOUR_MS, 'rollup_1h', this.#floors.r1h],
        [MINUTE_MS, 'rollup_1m', Math.max(this.#floors.r1m, this.#floors.raw)],
      ] as const) {
        if (aligned(w) && range.fromMs >= floor) {
          await this.#refreshRollups();
          const where = `sid IN (${sids.join(',')}) AND bucket >= ${range.fromMs} AND bucket < ${range.toMs}`;
          const sql =
            bucketMs === w
              ? `SELECT ${ROLLUP_SELECT} FROM ${table} WHERE ${where}`
              : mergeSql(table, bucketMs, where);
          return this.#bucketRows(sql);
        }
      }
      const sql = this.#rawBucketsSql(sids, range.fromMs, range.toMs, bucketMs);
      return sql === undefined ? [] : this.#bucketRows(sql);
    });
  }

  async queryRollup(
    signals: readonly SignalId[],
    resolution: RollupResolution,
    range: TimeRange,
  ): Promise<BucketRow[]> {
    checkRange(range);
    if (!(resolution in ROLLUP_MS)) {
      throw new GembaError('GEMBA_HISTORIAN_QUERY', `unknown rollup resolution '${String(resolution)}'`);
    }
    return this.#q.run(async () => {
      this.#checkOpen();
      const sids = this.#sidList(signals);
      if (sids.length === 0) return [];
      const cols = ROLLUP_SELECT;
      if (resolution === '1s') {
        // Kept 1 s rollups below the raw floor, computed from raw above it.
        const rawFloor = Math.ceil(this.#floors.raw / 1000) * 1000;
        const from = Math.max(range.fromMs, this.#floors.r1s);
        const parts: string[] = [
          `SELECT ${cols} FROM rollup_1s WHERE sid IN (${sids.join(',')}) AND bucket >= ${lit(from)} AND bucket < ${lit(Math.min(range.toMs, rawFloor))}`,
        ];
        const lo = Math.ceil(Math.max(from, rawFloor) / 1000) * 1000;
        const hi = Math.ceil(range.toMs / 1000) * 1000;
        const raw = lo < hi ? this.#rawBucketsSql(sids, lo, hi, 1000) : undefined;
        if (raw !== undefined) parts.push(raw);
        return this.#bucketRows(parts.join(' UNION ALL '));
      }
      await this.#refreshRollups();
      const floor = resolution === '1m' ? this.#floors.r1m : this.#floors.r1h;
      return this.#bucketRows(
        `SELECT ${cols} FROM rollup_${resolution} WHERE sid IN (${sids.join(',')}) AND bucket >= ${lit(Math.max(range.fromMs, floor))} AND bucket < ${lit(range.toMs)}`,
      );
    });
  }

  async lastValues(signals?: readonly SignalId[]): Promise<Sample[]> {
    this.#checkOpen();
    const names = signals === undefined ? [...this.#sids.keys()] : [...new Set(signals)];
    const out: Sample[] = [];
    for (const name of names) {
      const sid = this.#sids.get(name);
      if (sid === undefined) continue;
      const ts = this.#lastTs[sid] as number;
      if (ts === Number.NEGATIVE_INFINITY) continue;
      out.push(
        toSample(
          name,
          ts,
          this.#lastNum[sid] as number,
          this.#lastStr[sid] ?? null,
          this.#lastFlags[sid] as number,
        ),
      );
    }
    return out.sort((a, b) => (a.signal < b.signal ? -1 : a.signal > b.signal ? 1 : 0));
  }

  async appendEvents(events: readonly HistorianEvent[]): Promise<void> {
    return this.#q.run(async () => {
      this.#checkOpen();
      if (events.length === 0) return;
      const c = this.#c;
      // Later entries with the same id win, as if appended one after the other (DuckDB refuses
      // to replace one row twice in a statement, so duplicates go before the insert).
      const byId = new Map<string, HistorianEvent>();
      for (const e of events) byId.set(e.id, e);
      const list = [...byId.values()];
      try {
        await c.run('BEGIN TRANSACTION');
        // Multi-row statements: one round trip per EVENT_ROWS_PER_INSERT events, not per event.
        for (let i = 0; i < list.length; i += EVENT_ROWS_PER_INSERT) {
          const chunk = list.slice(i, i + EVENT_ROWS_PER_INSERT);
          const params: (string | number)[] = [];
          const rows = chunk.map((e, j) => {
            params.push(e.id, e.kind, e.source, e.ts, JSON.stringify(e.data));
            const b = j * 5;
            return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5})`;
          });
          await c.run(`INSERT OR REPLACE INTO events VALUES ${rows.join(', ')}`, params);
        }
        await c.run('COMMIT');
      } catch (err: unknown) {
        await c.run('ROLLBACK').catch(() => undefined);
        throw this.#unavailable('cannot append events', err);
      }
    });
  }

  async queryEvents(
    query: TimeRange & { kind?: EventKind; sourcePrefix?: string; limit?: number },
  ): Promise<HistorianEvent[]> {
    checkRange(query);
    return this.#q.run(async () => {
      this.#checkOpen();
      const where = [`ts >= ${query.fromMs}`, `ts < ${query.toMs}`];
      if (query.kind !== undefined) where.push(`kind = ${quote(query.kind)}`);
      if (query.sourcePrefix !== undefined) {
        const p = query.sourcePrefix.endsWith('/') ? query.sourcePrefix.slice(0, -1) : query.sourcePrefix;
        if (p !== '') where.push(`(source = ${quote(p)} OR starts_with(source, ${quote(`${p}/`)}))`);
      }
      const lim = query.limit === undefined ? '' : ` LIMIT ${Math.max(0, Math.floor(query.limit))}`;
      const rows = await this.#rows(
        `SELECT id, kind, source, ts, data FROM events WHERE ${where.join(' AND ')} ORDER BY ts, id${lim}`,
      );
      return rows
        .map(([id, kind, source, ts, data]) => ({
          id: id as string,
          kind: kind as EventKind,
          source: source as string,
          ts: toNumber(ts),
          data: JSON.parse(data as string) as Record<string, unknown>,
        }))
        .filter((e) => query.sourcePrefix === undefined || eventMatchesSource(e.source, query.sourcePrefix));
    });
  }

  async applyRetention(policy: RetentionPolicy, nowMs: number): Promise<void> {
    return this.#q.run(async () => {
      this.#checkOpen();
      await this.#refreshRollups();
      const c = this.#c;
      const rawCut = nowMs - policy.rawMs;
      const cut1s = nowMs - policy.rollupMs['1s'];
      const cut1m = nowMs - policy.rollupMs['1m'];
      const cut1h = nowMs - policy.rollupMs['1h'];
      await c.run('BEGIN TRANSACTION');
      try {
        if (rawCut > this.#floors.raw) {
          // Keep 1 s rollups of the raw data about to go (the bucket holding the cut included).
          const hi = Math.ceil(rawCut / 1000) * 1000;
          const lo = Math.max(
            cut1s,
            this.#floors.raw === Number.NEGATIVE_INFINITY ? -8.64e15 : this.#floors.raw,
          );
          const from = Math.floor(lo / 1000) * 1000;
          if (from < hi) {
            const rel = this.#rawRelation(from, hi);
            if (rel !== undefined) {
              await c.run(`DELETE FROM rollup_1s WHERE bucket >= ${from} AND bucket < ${hi}`);
              await c.run(
                `INSERT INTO rollup_1s SELECT sid, CAST(floor(ts / 1000) AS BIGINT) * 1000 AS bucket, ${RAW_AGG_SQL} FROM ${rel} ` +
                  `WHERE ts >= ${from} AND ts < ${hi} AND ${AGGREGATABLE_SQL} GROUP BY sid, bucket`,
              );
            }
          }
          for (const p of [...this.#partitions.values()]) {
            if (p.start + this.#partitionMs <= rawCut) {
              await c.run(`DROP TABLE IF EXISTS ${p.name}`);
              await c.run('DELETE FROM partitions WHERE start_ms = $1', [p.start]);
            } else if (p.start < rawCut) {
              await c.run(`DELETE FROM ${p.name} WHERE ts < ${rawCut}`);
            }
          }
        }
        await c.run(`DELETE FROM rollup_1s WHERE bucket < ${cut1s}`);
        await c.run(`DELETE FROM rollup_1m WHERE bucket < ${cut1m}`);
        await c.run(`DELETE FROM rollup_1h WHERE bucket < ${cut1h}`);
        await c.run(`DELETE FROM events WHERE ts < ${nowMs - policy.eventsMs}`);
        const floors = {
          raw: Math.max(this.#floors.raw, rawCut),
          r1s: Math.max(this.#floors.r1s, cut1s),
          r1m: Math.max(this.#floors.r1m, cut1m),
          r1h: Math.max(this.#floors.r1h, cut1h),
        };
        for (const [k, v] of [
          ['floor_raw', floors.raw],
          ['floor_1s', floors.r1s],
          ['floor_1m', floors.r1m],
          ['floor_1h', floors.r1h],
        ] as const) {
          await c.run('INSERT OR REPLACE INTO meta VALUES ($1, $2)', [k, v]);
        }
        await c.run('COMMIT');
        this.#floors = floors;
        for (const p of [...this.#partitions.values()]) {
          if (p.start + this.#partitionMs <= rawCut) this.#partitions.delete(p.start);
        }
      } catch (err: unknown) {
        await c.run('ROLLBACK').catch(() => undefined);
        throw this.#unavailable('retention failed', err);
      }
    });
  }

  /** Bytes the store takes on disk (database file and write-ahead log). */
  async sizeBytes(): Promise<number> {
    const file = join(this.#dirPath, 'historian.duckdb');
    let size = 0;
    for (const f of [file, `${file}.wal`]) {
      try {
        size += statSync(f).size;
      } catch {
        // A missing WAL is normal after a checkpoint.
      }
    }
    return size;
  }

  close(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    return this.#q.run(async () => {
      if (this.#closed) return;
      try {
        await this.#refreshRollups();
        await this.#c.run('CHECKPOINT');
      } finally {
        this.#closed = true;
        this.#c.closeSync();
        this.#db.closeSync();
      }
    });
  }
}

/**
 * Opens the embedded historian in a folder (created if missing).
 *
 * @example
 * const historian = await openEmbeddedHistorian({ dir: './data/historian', logger });
 */
export function openEmbeddedHistorian(options: EmbeddedHistorianOptions): Promise<EmbeddedHistorian> {
  return EmbeddedHistorian.open(options);
}
