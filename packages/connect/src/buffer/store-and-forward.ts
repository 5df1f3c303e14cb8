import { randomUUID } from 'node:crypto';
import {
  type Bus,
  type Clock,
  decodeBatch,
  encodeBatch,
  GembaError,
  type Logger,
  type SampleBatch,
  type TimerHandle,
} from '@gemba/core';
import { Backoff } from '../source/backoff.ts';
import { SegmentLog } from './segment-log.ts';

/** Options of {@link StoreAndForward}. */
export interface StoreAndForwardOptions {
  bus: Bus;
  /** Folder of the on-disk buffer (created). */
  dir: string;
  clock: Clock;
  logger: Logger;
  /** Most bytes the buffer holds on disk; beyond it the oldest data is dropped (default 256 MiB). */
  maxBytes?: number;
  /** A publish not acknowledged within this time counts as failed, ms (default 5 000). */
  publishTimeoutMs?: number;
  /** Most publishes in flight at once while the bus is up (default 64). */
  maxInFlight?: number;
  /** Prefix of deduplication ids (default a random id per process). */
  msgIdPrefix?: string;
  /** Called when data is dropped because the buffer is full. */
  onDrop?: (dropped: { batches: number; samples: number }) => void;
}

/** Counters of a {@link StoreAndForward}. */
export interface StoreAndForwardStats {
  /** `direct` while the bus takes batches; `buffering` while batches go to disk and replay. */
  mode: 'direct' | 'buffering';
  /** Batches acknowledged by the bus. */
  published: number;
  /** Batches waiting on disk. */
  bufferedBatches: number;
  bufferedBytes: number;
  /** Batches and samples dropped because the buffer was full. */
  droppedBatches: number;
  droppedSamples: number;
  /** Failed publish attempts. */
  publishErrors: number;
}

interface Item {
  subject: string;
  batch: SampleBatch | undefined;
  payload: Uint8Array | undefined;
  msgId: string;
  samples: number;
}

/**
 * Publishes sample batches to the bus, and keeps them on disk while the bus is unreachable.
 *
 * While the bus is up, batches are published directly (pipelined, in order, each with a
 * deduplication `msgId`). When a publish fails or times out, the buffer switches to
 * `buffering`: that batch and every later one go to a bounded on-disk log (surviving a
 * process restart, even a kill -9) and are replayed in order, with their original `msgId`s,
 * until the log is empty; then it switches back. Replays may repeat a batch that had reached
 * the bus just before a failure or crash; the bus drops it by its `msgId`, so after
 * deduplication every batch arrives exactly once, in order. When the log would exceed
 * `maxBytes` the oldest segment is dropped, counted in the stats, logged and reported via
 * `onDrop`. Never throws from {@link StoreAndForward.enqueue}.
 */
export class StoreAndForward {
  readonly #bus: Bus;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #maxBytes: number;
  readonly #timeoutMs: number;
  readonly #maxInFlight: number;
  readonly #prefix: string;
  readonly #onDrop: StoreAndForwardOptions['onDrop'];
  readonly #disk: SegmentLog;
  readonly #backoff = new Backoff({ initialMs: 100, maxMs: 5_000 });
  #mode: 'direct' | 'buffering' = 'direct';
  #counter = 0;
  /** Direct mode: published, not yet acknowledged, in order. */
  #inFlight: Item[] = [];
  /** Bumped on every switch to buffering, so late answers of abandoned publishes are ignored. */
  #generation = 0;
  #draining = false;
  #retryTimer: TimerHandle | undefined;
  #closed = false;
  #waiters: (() => void)[] = [];
  readonly #stats = { published: 0, droppedBatches: 0, droppedSamples: 0, publishErrors: 0 };

  /** @throws GembaError GEMBA_CONNECT_BUFFER when the folder cannot be opened. */
  constructor(options: StoreAndForwardOptions) {
    this.#bus = options.bus;
    this.#clock = options.clock;
    this.#log = options.logger.child({ component: 'connect.buffer' });
    this.#maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
    this.#timeoutMs = options.publishTimeoutMs ?? 5_000;
    this.#maxInFlight = options.maxInFlight ?? 64;
    this.#prefix = options.msgIdPrefix ?? randomUUID().slice(0, 13);
    this.#onDrop = options.onDrop;
    this.#disk = new SegmentLog(options.dir, Math.max(4096, Math.min(4 * 1024 * 1024, this.#maxBytes / 8)));
    if (this.#disk.records > 0) {
      this.#log.info({ batches: this.#disk.records, dir: options.dir }, 'replaying buffered batches');
      this.#mode = 'buffering';
      this.#drain();
    }
  }

  /** Counters and the current mode. */
  stats(): StoreAndForwardStats {
    return {
      mode: this.#mode,
      ...this.#stats,
      bufferedBatches: this.#disk.records,
      bufferedBytes: this.#disk.bytes,
    };
  }

  /** Queues a batch for `subject`. Never throws; ordering per buffer is kept. */
  enqueue(subject: string, batch: SampleBatch): void {
    if (this.#closed || batch.length === 0) return;
    const item: Item = {
      subject,
      batch,
      payload: undefined,
      msgId: `${this.#prefix}-${this.#counter++}`,
      samples: batch.length,
    };
    if (this.#mode === 'direct' && this.#inFlight.length < this.#maxInFlight) {
      this.#publishDirect(item);
    } else {
      if (this.#mode === 'direct') this.#toBuffering('too many publishes in flight');
      this.#append(item);
    }
  }

  #publishDirect(item: Item): void {
    this.#inFlight.push(item);
    const gen = this.#generation;
    this.#publish(item.subject, item.batch as SampleBatch, item.msgId).then(
      () => {
        if (gen !== this.#generation) return;
        const i = this.#inFlight.indexOf(item);
        if (i >= 0) this.#inFlight.splice(i, 1);
        this.#stats.published++;
        this.#notify();
      },
      (err: unknown) => {
        if (gen !== this.#generation) return;
        this.#stats.publishErrors++;
        this.#toBuffering(err);
      },
    );
  }

  /** Moves every unacknowledged direct publish (in order) to disk and starts the replay loop. */
  #toBuffering(why: unknown): void {
    if (this.#mode === 'buffering') return;
    this.#log.warn({ err: why }, 'bus unreachable: buffering batches on disk');
    this.#mode = 'buffering';
    this.#generation++;
    const pending = this.#inFlight;
    this.#inFlight = [];
    for (const it of pending) this.#append(it);
    this.#drain();
  }

  #append(item: Item): void {
    try {
      const payload = item.payload ?? encodeBatch(item.batch as SampleBatch);
      this.#disk.append(item.subject, item.msgId, item.samples, payload);
      while (this.#disk.bytes > this.#maxBytes && this.#disk.records > 0) {
        const d = this.#disk.dropOldest();
        if (d.records === 0) break;
        this.#stats.droppedBatches += d.records;
        this.#stats.droppedSamples += d.samples;
        this.#log.warn(
          { droppedBatches: d.records, droppedSamples: d.samples, maxBytes: this.#maxBytes },
          'store-and-forward buffer full: dropped the oldest data',
        );
        this.#onDrop?.({ batches: d.records, samples: d.samples });
      }
    } catch (err: unknown) {
      // A full or broken disk: the batch is lost; count it as dropped and say so.
      this.#stats.droppedBatches++;
      this.#stats.droppedSamples += item.samples;
      this.#log.error({ err, subject: item.subject }, 'cannot write to the store-and-forward buffer');
      this.#onDrop?.({ batches: 1, samples: item.samples });
    }
    if (!this.#draining && this.#retryTimer === undefined) this.#drain();
  }

  /** Replays the disk log in order; on failure retries with backoff; back to direct when empty. */
  #drain(): void {
    if (this.#draining || this.#closed) return;
    this.#draining = true;
    void this.#drainLoop();
  }

  async #drainLoop(): Promise<void> {
    let sinceSave = 0;
    try {
      for (;;) {
        if (this.#closed) return;
        const rec = this.#disk.peek();
        if (rec === undefined) break;
        try {
          await this.#publish(rec.subject, decodeBatch(rec.payload), rec.msgId);
        } catch (err: unknown) {
          this.#stats.publishErrors++;
          this.#disk.saveCursor();
          const delay = this.#backoff.next();
          this.#log.debug({ err, delayMs: delay }, 'replay failed; retrying');
          this.#retryTimer = this.#clock.setTimeout(() => {
            this.#retryTimer = undefined;
            this.#drain();
          }, delay);
          return;
        }
        this.#backoff.reset();
        this.#disk.ack(rec.seq);
        this.#stats.published++;
        if (++sinceSave >= 32) {
          this.#disk.saveCursor();
          sinceSave = 0;
        }
      }
      this.#disk.saveCursor();
      if (this.#mode === 'buffering') {
        this.#log.info({}, 'bus back: buffer replayed');
        this.#mode = 'direct';
      }
      this.#notify();
    } catch (err: unknown) {
      this.#log.error({ err }, 'store-and-forward replay failed');
    } finally {
      this.#draining = false;
    }
  }

  #publish(subject: string, batch: SampleBatch, msgId: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = this.#clock.setTimeout(
        () =>
          reject(
            new GembaError(
              'GEMBA_BUS_UNAVAILABLE',
              `publish to ${subject} not acknowledged in ${this.#timeoutMs} ms`,
            ),
          ),
        this.#timeoutMs,
      );
      this.#bus.publish(subject, batch, { msgId }).then(
        (ack) => {
          this.#clock.clearTimeout(timer);
          resolve(ack);
        },
        (err: unknown) => {
          this.#clock.clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  #idle(): boolean {
    return this.#mode === 'direct' && this.#inFlight.length === 0 && this.#disk.records === 0;
  }

  #notify(): void {
    if (!this.#idle()) return;
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /**
   * Resolves once everything enqueued so far has been acknowledged by the bus.
   * @throws GembaError GEMBA_BUS_UNAVAILABLE when that takes longer than `timeoutMs`.
   */
  async flush(timeoutMs = 30_000): Promise<void> {
    if (this.#idle()) return;
    let timer: TimerHandle | undefined;
    let done: (() => void) | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        done = resolve;
        this.#waiters.push(resolve);
        timer = this.#clock.setTimeout(
          () =>
            reject(
              new GembaError(
                'GEMBA_BUS_UNAVAILABLE',
                `store-and-forward not drained after ${timeoutMs} ms (${this.#disk.records} batches buffered)`,
              ),
            ),
          timeoutMs,
        );
      });
    } finally {
      if (timer !== undefined) this.#clock.clearTimeout(timer);
      this.#waiters = this.#waiters.filter((w) => w !== done);
    }
  }

  /**
   * Stops publishing. Batches not yet acknowledged stay on disk for the next start: direct
   * publishes still in flight are written to the log first.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    const pending = this.#inFlight;
    this.#inFlight = [];
    this.#generation++;
    for (const it of pending) {
      try {
        this.#disk.append(it.subject, it.msgId, it.samples, encodeBatch(it.batch as SampleBatch));
      } catch (err: unknown) {
        this.#log.error({ err }, 'cannot keep an unacknowledged batch on close');
      }
    }
    this.#closed = true;
    if (this.#retryTimer !== undefined) this.#clock.clearTimeout(this.#retryTimer);
    this.#disk.saveCursor();
    this.#disk.close();
  }
}
