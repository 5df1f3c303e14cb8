import {
  type Bus,
  type BusMessage,
  type Clock,
  type DeliverFrom,
  type Historian,
  type Logger,
  RealClock,
  type Subscription,
  silentLogger,
} from '@gemba/core';
import { concatBatches } from './concat-batches.ts';

/** Options of {@link startHistorianWriter}. */
export interface HistorianWriterOptions {
  bus: Bus;
  historian: Historian;
  /** Durable consumer name; a restarted writer resumes after the last acknowledged message. Default `historian`. */
  durable?: string;
  /** Subject filter (NATS wildcards). Default `gemba.samples.>`. */
  filter?: string;
  /** Where a new durable consumer starts. Default all retained messages. */
  deliverFrom?: DeliverFrom;
  logger?: Logger;
  clock?: Clock;
  /** Most samples per append; deliveries wait while this many are buffered. Default 100 000. */
  maxBatchSamples?: number;
  /** Most messages delivered and not yet acknowledged (the bus's maxAckPending). Default 1000. */
  maxAckPending?: number;
  /** The bus redelivers messages not acknowledged within this time, ms. Default 60 000. */
  ackWaitMs?: number;
  /** First retry delay after a failed append, ms (doubles up to `maxBackoffMs`). Default 100. */
  initialBackoffMs?: number;
  /** Longest retry delay, ms. Default 10 000. */
  maxBackoffMs?: number;
}

/** Counters of a {@link HistorianWriter}. */
export interface HistorianWriterStats {
  /** Messages appended and acknowledged. */
  messages: number;
  /** Samples appended (repeats included). */
  samples: number;
  /** Appends done (each covers one or more messages). */
  appends: number;
  /** Failed append attempts (each was retried). */
  failures: number;
  /** Messages received and not yet acknowledged. */
  buffered: number;
  /** The last append error, if the last attempt failed. */
  lastError: string | undefined;
}

/** A running writer: bus → historian. */
export interface HistorianWriter {
  /** Messages the bus holds for this writer not yet acknowledged (buffered here or not yet delivered). */
  lag(): Promise<number>;
  stats(): HistorianWriterStats;
  /**
   * Stops consuming. What is buffered is appended once more if the store takes it; otherwise it
   * stays unacknowledged on the bus for the next writer.
   */
  stop(): Promise<void>;
}

/**
 * Starts a writer that consumes sample batches from a durable bus consumer and appends them to
 * the historian, several messages per append, acknowledging each message only after the append
 * holding it has resolved (is durable). When the store fails it backs off and retries the same
 * data without end (never dropping it); the bus holds the backlog and {@link HistorianWriter.lag}
 * reports it. A crash loses nothing acknowledged: the bus redelivers the rest and the
 * historian's idempotent append absorbs the repeats.
 *
 * @example
 * const writer = await startHistorianWriter({ bus, historian, durable: 'historian', filter: 'gemba.samples.>', logger });
 */
export async function startHistorianWriter(options: HistorianWriterOptions): Promise<HistorianWriter> {
  const log = (options.logger ?? silentLogger()).child({ component: 'historian.writer' });
  const clock = options.clock ?? new RealClock();
  const durable = options.durable ?? 'historian';
  const maxSamples = options.maxBatchSamples ?? 100_000;
  const initialBackoff = options.initialBackoffMs ?? 100;
  const maxBackoff = options.maxBackoffMs ?? 10_000;
  const { bus, historian } = options;

  let buffer: BusMessage[] = [];
  /** Sequences buffered or being appended, and later deliveries of them. */
  const held = new Set<number>();
  const extra = new Map<number, BusMessage[]>();
  let bufferedSamples = 0;
  let flushing: Promise<void> | undefined;
  let stopping = false;
  let roomWaiters: (() => void)[] = [];
  let signalStop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    signalStop = resolve;
  });
  const stats: HistorianWriterStats = {
    messages: 0,
    samples: 0,
    appends: 0,
    failures: 0,
    buffered: 0,
    lastError: undefined,
  };

  const wakeRoom = (): void => {
    const w = roomWaiters;
    roomWaiters = [];
    for (const f of w) f();
  };

  /** Appends `msgs` until it succeeds (or, once stopping, one more time). */
  const appendWithRetry = async (msgs: BusMessage[]): Promise<boolean> => {
    const batch = concatBatches(msgs.map((m) => m.batch));
    let backoff = initialBackoff;
    for (;;) {
      try {
        await historian.append(batch);
        stats.lastError = undefined;
        stats.appends++;
        stats.samples += batch.length;
        return true;
      } catch (err: unknown) {
        stats.failures++;
        stats.lastError = err instanceof Error ? err.message : String(err);
        if (stopping) {
          log.warn(
            { err, messages: msgs.length },
            'append failed while stopping; left unacknowledged on the bus',
          );
          return false;
        }
        log.warn({ err, retryInMs: backoff, messages: msgs.length }, 'append failed; retrying');
        await Promise.race([clock.sleep(backoff * (0.8 + Math.random() * 0.4)), stopped]);
        backoff = Math.min(maxBackoff, backoff * 2);
      }
    }
  };

  const flushLoop = async (): Promise<void> => {
    while (buffer.length > 0) {
      const msgs = buffer;
      buffer = [];
      bufferedSamples = 0;
      wakeRoom();
      const ok = await appendWithRetry(msgs);
      if (ok) {
        for (const m of msgs) {
          m.ack();
          for (const again of extra.get(m.seq) ?? []) again.ack();
        }
        stats.messages += msgs.length;
      }
      for (const m of msgs) {
        held.delete(m.seq);
        extra.delete(m.seq);
      }
      stats.buffered -= msgs.length;
      if (!ok) {
        // Stopping with a failing store: drop the rest from memory, the bus still holds it.
        stats.buffered -= buffer.length;
        for (const m of buffer) {
          held.delete(m.seq);
          extra.delete(m.seq);
        }
        buffer = [];
        bufferedSamples = 0;
        return;
      }
    }
  };

  const kick = (): void => {
    if (flushing !== undefined) return;
    flushing = flushLoop()
      .catch((err: unknown) => log.error({ err }, 'writer flush loop failed'))
      .finally(() => {
        flushing = undefined;
        wakeRoom();
        if (buffer.length > 0 && !stopping) kick();
      });
  };

  const sub: Subscription = await bus.consume(
    {
      durable,
      filter: options.filter ?? 'gemba.samples.>',
      deliverFrom: options.deliverFrom ?? { kind: 'all' },
      maxAckPending: options.maxAckPending ?? 1000,
      ackWaitMs: options.ackWaitMs ?? 60_000,
    },
    async (msg) => {
      // A redelivery (ack wait expired) of a message held here is not appended twice: it is
      // acknowledged together with the first delivery.
      if (held.has(msg.seq)) {
        const list = extra.get(msg.seq);
        if (list === undefined) extra.set(msg.seq, [msg]);
        else list.push(msg);
        return;
      }
      held.add(msg.seq);
      // Backpressure: the next delivery waits while the buffer is full.
      while (bufferedSamples >= maxSamples && !stopping) {
        await new Promise<void>((resolve) => roomWaiters.push(resolve));
      }
      buffer.push(msg);
      bufferedSamples += msg.batch.length;
      stats.buffered++;
      kick();
    },
  );
  log.info({ durable }, 'historian writer started');

  return {
    lag: () => bus.pending(durable),
    stats: () => ({ ...stats }),
    stop: async () => {
      stopping = true;
      signalStop();
      wakeRoom();
      await sub.stop();
      if (flushing !== undefined) await flushing;
      if (buffer.length > 0) await flushLoop();
      log.info({ ...stats }, 'historian writer stopped');
    },
  };
}
