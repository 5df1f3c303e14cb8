import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { GembaError } from '@gemba/core';

/** One record of the log: a batch for a subject with its deduplication id. */
export interface LogRecord {
  seq: number;
  subject: string;
  msgId: string;
  /** Samples in the batch (for drop accounting). */
  samples: number;
  /** The encoded batch (`encodeBatch`). */
  payload: Uint8Array;
}

interface IndexEntry {
  seq: number;
  offset: number;
  length: number;
  samples: number;
}

interface Segment {
  firstSeq: number;
  file: string;
  bytes: number;
  entries: IndexEntry[];
}

/** What {@link SegmentLog.dropOldest} removed. */
export interface DropResult {
  records: number;
  samples: number;
}

const HEADER = 8; // u32 body length, u32 crc32 of body

/**
 * An append-only log of records in segment files, with an acknowledged position kept in
 * `cursor.json`. Survives a crash at any point: a torn last record (length or CRC wrong) is
 * cut off on open. Appends use synchronous writes, so a record is in the OS page cache (and
 * survives a kill -9 of the process) once `append` returns.
 */
export class SegmentLog {
  readonly dir: string;
  readonly #segmentBytes: number;
  readonly #segments: Segment[] = [];
  #fd: number | undefined;
  #acked: number;
  #nextSeq: number;
  #bytes = 0;
  #records = 0;
  /** Position of the next record to read: segment index and entry index in it. */
  #readSeg = 0;
  #readEntry = 0;

  /**
   * Opens (creating) the log in `dir`.
   * @throws GembaError GEMBA_CONNECT_BUFFER when the folder cannot be created or read.
   */
  constructor(dir: string, segmentBytes: number) {
    this.dir = dir;
    this.#segmentBytes = segmentBytes;
    try {
      mkdirSync(dir, { recursive: true });
      const cursorFile = join(dir, 'cursor.json');
      this.#acked = existsSync(cursorFile)
        ? Number((JSON.parse(readFileSync(cursorFile, 'utf8')) as { acked: number }).acked) || 0
        : 0;
      this.#nextSeq = this.#acked + 1;
      const files = readdirSync(dir)
        .filter((f) => f.endsWith('.seg'))
        .sort();
      for (const f of files) this.#recover(join(dir, f), Number.parseInt(f, 10));
    } catch (err: unknown) {
      throw new GembaError('GEMBA_CONNECT_BUFFER', `cannot open store-and-forward buffer ${dir}`, {
        cause: err,
        details: { dir },
      });
    }
  }

  #recover(file: string, firstSeq: number): void {
    const buf = readFileSync(file);
    const seg: Segment = { firstSeq, file, bytes: 0, entries: [] };
    let off = 0;
    while (off + HEADER <= buf.length) {
      const len = buf.readUInt32LE(off);
      const crc = buf.readUInt32LE(off + 4);
      if (off + HEADER + len > buf.length) break;
      const body = buf.subarray(off + HEADER, off + HEADER + len);
      if (crc32(body) !== crc) break;
      const seq = body.readDoubleLE(0);
      const samples = body.readUInt32LE(8);
      if (seq > this.#acked) {
        seg.entries.push({ seq, offset: off, length: HEADER + len, samples });
        this.#records++;
      }
      this.#nextSeq = Math.max(this.#nextSeq, seq + 1);
      off += HEADER + len;
    }
    if (off < buf.length) {
      // A torn record from a crash mid-write: cut it off so appends continue cleanly.
      const fd = openSync(file, 'r+');
      ftruncateSync(fd, off);
      closeSync(fd);
    }
    seg.bytes = off;
    if (seg.entries.length === 0) {
      rmSync(file, { force: true });
      return;
    }
    this.#bytes += off;
    this.#segments.push(seg);
  }

  /** Records not yet acknowledged. */
  get records(): number {
    return this.#records;
  }

  /** Bytes on disk. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The sequence number the next append gets. */
  get nextSeq(): number {
    return this.#nextSeq;
  }

  /** Appends a record; returns its sequence number. */
  append(subject: string, msgId: string, samples: number, payload: Uint8Array): number {
    const seq = this.#nextSeq++;
    const subj = Buffer.from(subject, 'utf8');
    const mid = Buffer.from(msgId, 'utf8');
    const bodyLen = 8 + 4 + 2 + subj.length + 2 + mid.length + payload.length;
    const rec = Buffer.allocUnsafe(HEADER + bodyLen);
    let o = HEADER;
    o = rec.writeDoubleLE(seq, o);
    o = rec.writeUInt32LE(samples, o);
    o = rec.writeUInt16LE(subj.length, o);
    o += subj.copy(rec, o);
    o = rec.writeUInt16LE(mid.length, o);
    o += mid.copy(rec, o);
    rec.set(payload, o);
    rec.writeUInt32LE(bodyLen, 0);
    rec.writeUInt32LE(crc32(rec.subarray(HEADER)), 4);
    let seg = this.#segments.at(-1);
    if (seg === undefined || this.#fd === undefined || seg.bytes + rec.length > this.#segmentBytes) {
      if (this.#fd !== undefined) closeSync(this.#fd);
      const file = join(this.dir, `${String(seq).padStart(16, '0')}.seg`);
      seg = { firstSeq: seq, file, bytes: 0, entries: [] };
      this.#segments.push(seg);
      this.#fd = openSync(file, 'a');
    }
    writeSync(this.#fd, rec);
    seg.entries.push({ seq, offset: seg.bytes, length: rec.length, samples });
    seg.bytes += rec.length;
    this.#bytes += rec.length;
    this.#records++;
    return seq;
  }

  /** The oldest record not yet acknowledged, or undefined when the log is drained. */
  peek(): LogRecord | undefined {
    for (;;) {
      const seg = this.#segments[this.#readSeg];
      if (seg === undefined) return undefined;
      const e = seg.entries[this.#readEntry];
      if (e === undefined) {
        if (this.#readSeg === this.#segments.length - 1) return undefined;
        this.#readSeg++;
        this.#readEntry = 0;
        continue;
      }
      const buf = Buffer.allocUnsafe(e.length);
      const fd = openSync(seg.file, 'r');
      try {
        readSync(fd, buf, 0, e.length, e.offset);
      } finally {
        closeSync(fd);
      }
      let o = HEADER + 12;
      const sl = buf.readUInt16LE(o);
      o += 2;
      const subject = buf.toString('utf8', o, o + sl);
      o += sl;
      const ml = buf.readUInt16LE(o);
      o += 2;
      const msgId = buf.toString('utf8', o, o + ml);
      o += ml;
      return {
        seq: e.seq,
        subject,
        msgId,
        samples: e.samples,
        payload: new Uint8Array(buf.buffer, buf.byteOffset + o, buf.length - o),
      };
    }
  }

  /** Acknowledges the record `peek` returned: it will not be read again, even after a restart. */
  ack(seq: number): void {
    const seg = this.#segments[this.#readSeg];
    const e = seg?.entries[this.#readEntry];
    if (seg === undefined || e === undefined || e.seq !== seq) return;
    this.#readEntry++;
    this.#records--;
    this.#acked = seq;
    this.#trim();
  }

  /** Removes fully read segments, except the one being written. */
  #trim(): void {
    while (this.#segments.length > 1) {
      const first = this.#segments[0] as Segment;
      if (this.#readSeg === 0 && this.#readEntry < first.entries.length) break;
      this.#segments.shift();
      this.#bytes -= first.bytes;
      rmSync(first.file, { force: true });
      if (this.#readSeg > 0) this.#readSeg--;
      else this.#readEntry = 0;
    }
  }

  /** Persists the acknowledged position (call after a run of acks; cheap enough per ack). */
  saveCursor(): void {
    const tmp = join(this.dir, 'cursor.json.tmp');
    writeFileSync(tmp, JSON.stringify({ acked: this.#acked }));
    renameSync(tmp, join(this.dir, 'cursor.json'));
    if (this.#records === 0) this.#reset();
  }

  /** Removes every file when drained, so an idle buffer takes no space. */
  #reset(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
    for (const s of this.#segments) rmSync(s.file, { force: true });
    this.#segments.length = 0;
    this.#bytes = 0;
    this.#readSeg = 0;
    this.#readEntry = 0;
  }

  /**
   * Drops the oldest segment's unacknowledged records (never the one being written while
   * others exist). Returns what was dropped.
   */
  dropOldest(): DropResult {
    const seg = this.#segments[0];
    if (seg === undefined) return { records: 0, samples: 0 };
    const from = this.#readSeg === 0 ? this.#readEntry : seg.entries.length;
    let records = 0;
    let samples = 0;
    for (let i = from; i < seg.entries.length; i++) {
      records++;
      samples += (seg.entries[i] as IndexEntry).samples;
    }
    const last = seg.entries.at(-1);
    if (this.#segments.length === 1) {
      if (this.#fd !== undefined) closeSync(this.#fd);
      this.#fd = undefined;
    }
    this.#segments.shift();
    rmSync(seg.file, { force: true });
    this.#bytes -= seg.bytes;
    this.#records -= records;
    if (last !== undefined) this.#acked = Math.max(this.#acked, last.seq);
    if (this.#readSeg > 0) this.#readSeg--;
    else this.#readEntry = 0;
    this.saveCursor();
    return { records, samples };
  }

  /** Closes the open segment file. */
  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  /** Size of a segment file on disk (for tests). */
  static fileBytes(file: string): number {
    return statSync(file).size;
  }
}
