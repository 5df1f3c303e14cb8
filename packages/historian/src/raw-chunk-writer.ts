import {
  BIGINT,
  DOUBLE,
  type DuckDBAppender,
  DuckDBDataChunk,
  INTEGER,
  UTINYINT,
  VARCHAR,
} from '@duckdb/node-api';
import duckdb from '@duckdb/node-bindings';
import type { SampleBatch } from '@gemba/core';
import { packFlags } from './encoding.ts';

const TWO_32 = 4_294_967_296;

/** Rounds to the nearest integer, ties to even, as DuckDB casts DOUBLE to BIGINT. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Writes rows of a {@link SampleBatch} to a DuckDB appender whole columns at a time, in data
 * chunks of the raw layout (`sid INTEGER, ts BIGINT, num DOUBLE, str VARCHAR, flags UTINYINT`).
 *
 * Each column of a chunk (at most `vector_size()` rows, 2048) is filled in a typed array and
 * copied into DuckDB in one call, instead of five native calls per row: `ts` is written as
 * int64 through its two 32-bit halves (no BigInt per row), a NaN `num` and an absent `str`
 * become NULL through the validity masks. The result is the same as appending row by row
 * (a fractional `ts` rounded half to even like DuckDB's DOUBLE → BIGINT cast).
 *
 * One writer per connection, used by one append at a time (the historian's serial queue);
 * it reuses its chunk and buffers.
 */
export class RawChunkWriter {
  readonly #chunk: DuckDBDataChunk;
  readonly #cap: number;
  readonly #sid: Int32Array<ArrayBuffer>;
  readonly #ts: Uint32Array<ArrayBuffer>;
  readonly #num: Float64Array<ArrayBuffer>;
  readonly #flags: Uint8Array<ArrayBuffer>;
  /** Validity bitmaps (bit `j` set = row `j` not NULL), whole 64-bit words as DuckDB wants them. */
  readonly #numValid: Uint8Array<ArrayBuffer>;
  readonly #strValid: Uint8Array<ArrayBuffer>;

  constructor() {
    this.#chunk = DuckDBDataChunk.create([INTEGER, BIGINT, DOUBLE, VARCHAR, UTINYINT]);
    this.#cap = duckdb.vector_size();
    this.#sid = new Int32Array(this.#cap);
    this.#ts = new Uint32Array(this.#cap * 2);
    this.#num = new Float64Array(this.#cap);
    this.#flags = new Uint8Array(this.#cap);
    this.#numValid = new Uint8Array(Math.ceil(this.#cap / 64) * 8);
    this.#strValid = new Uint8Array(Math.ceil(this.#cap / 64) * 8);
  }

  /**
   * Appends rows `rows[0..count)` of `batch` (row indices) with their signal ids `sidOf[row]`.
   * The appender's table must have the raw layout; the caller flushes and closes the appender.
   */
  append(
    appender: DuckDBAppender,
    batch: SampleBatch,
    rows: Int32Array | readonly number[],
    count: number,
    sidOf: Int32Array,
  ): void {
    const cap = this.#cap;
    const sidBuf = this.#sid;
    const tsBuf = this.#ts;
    const numBuf = this.#num;
    const flagsBuf = this.#flags;
    const numValid = this.#numValid;
    const strValid = this.#strValid;
    const tsCol = batch.ts;
    const numCol = batch.num;
    const kindCol = batch.kind;
    const qualityCol = batch.quality;
    const strCol = batch.str;
    const chunk = this.#chunk.chunk;
    for (let off = 0; off < count; off += cap) {
      const m = Math.min(cap, count - off);
      const words = Math.ceil(m / 64) * 8;
      numValid.fill(0xff, 0, words);
      strValid.fill(0, 0, words);
      let strings: [number, string][] | undefined;
      for (let j = 0; j < m; j++) {
        const i = rows[off + j] as number;
        sidBuf[j] = sidOf[i] as number;
        let t = tsCol[i] as number;
        if (!Number.isInteger(t)) t = roundHalfEven(t);
        const hi = Math.floor(t / TWO_32);
        tsBuf[2 * j] = t - hi * TWO_32;
        tsBuf[2 * j + 1] = hi;
        const v = numCol[i] as number;
        if (!Number.isNaN(v)) numBuf[j] = v;
        else {
          numBuf[j] = 0;
          numValid[j >> 3] = (numValid[j >> 3] as number) & ~(1 << (j & 7));
        }
        flagsBuf[j] = packFlags(kindCol[i] as number, qualityCol[i] as number);
        if (strCol !== undefined) {
          const s = strCol[i];
          if (s !== undefined) {
            strValid[j >> 3] = (strValid[j >> 3] as number) | (1 << (j & 7));
            if (strings === undefined) strings = [];
            strings.push([j, s]);
          }
        }
      }
      duckdb.data_chunk_reset(chunk);
      duckdb.data_chunk_set_size(chunk, m);
      const vSid = duckdb.data_chunk_get_vector(chunk, 0);
      const vTs = duckdb.data_chunk_get_vector(chunk, 1);
      const vNum = duckdb.data_chunk_get_vector(chunk, 2);
      const vStr = duckdb.data_chunk_get_vector(chunk, 3);
      const vFlags = duckdb.data_chunk_get_vector(chunk, 4);
      duckdb.copy_data_to_vector(vSid, 0, sidBuf.buffer, 0, m * 4);
      duckdb.copy_data_to_vector(vTs, 0, tsBuf.buffer, 0, m * 8);
      duckdb.copy_data_to_vector(vNum, 0, numBuf.buffer, 0, m * 8);
      duckdb.copy_data_to_vector(vFlags, 0, flagsBuf.buffer, 0, m);
      duckdb.vector_ensure_validity_writable(vNum);
      duckdb.copy_data_to_vector_validity(vNum, 0, numValid.buffer, 0, words);
      if (strings !== undefined)
        for (const [j, s] of strings) duckdb.vector_assign_string_element(vStr, j, s);
      duckdb.vector_ensure_validity_writable(vStr);
      duckdb.copy_data_to_vector_validity(vStr, 0, strValid.buffer, 0, words);
      appender.appendDataChunk(this.#chunk);
    }
  }
}
