import { type Clock, RealClock, type TimerHandle } from '../clock.ts';
import { GembaError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { SampleBatch } from '../sample.ts';
import type {
  Bus,
  BusMessage,
  ConsumeOptions,
  DeliverFrom,
  MessageHandler,
  PublishAck,
  PublishOptions,
  Subscription,
} from './bus.ts';
import { subjectMatches, validateSubject } from './subject.ts';

/** Options of {@link InProcessBus}. */
export interface InProcessBusOptions {
  clock?: Clock;
  logger?: Logger;
  /** Most messages the stream holds; publishers wait while it is full of unacknowledged messages. Default 10 000. */
  maxMessages?: number;
  /** How long a `msgId` is remembered for deduplication, ms. Default 120 000 (JetStream's default). */
  duplicateWindowMs?: number;
}

interface Entry {
  seq: number;
  subject: string;
  publishedAt: number;
  batch: SampleBatch;
}

interface PendingDelivery {
  seq: number;
  deliveredAt: number;
  count: number;
}

class ConsumerState {
  /** Every matching message with seq <= ackFloor is acknowledged. */
  ackFloor: number;
  /** Next stream sequence to look at for a first delivery. */
  cursor: number;
  readonly acked = new Set<number>();
  /** Delivered, not yet acknowledged, in delivery order. */
  readonly pending = new Map<number, PendingDelivery>();
  /** Sequences to deliver again (nak'ed or ack wait expired), with the time they become due. */
  readonly redeliver = new Map<number, number>();
  readonly deliveryCounts = new Map<number, number>();
  readonly #matchCache = new Map<string, boolean>();
  active: ActiveSubscription | undefined;

  constructor(
    readonly durable: string,
    readonly filter: string,
    start: number,
  ) {
    this.cursor = start;
    this.ackFloor = start - 1;
  }

  matches(subject: string): boolean {
    let m = this.#matchCache.get(subject);
    if (m === undefined) {
      m = subjectMatches(this.filter, subject);
      if (this.#matchCache.size > 10_000) this.#matchCache.clear();
      this.#matchCache.set(subject, m);
    }
    return m;
  }
}

/**
 * The bus within one process: a bounded stream in memory with JetStream-like durable consumers.
 * Data lives as long as the bus object; use the NATS bus for durability across processes.
 */
export class InProcessBus implements Bus {
  readonly #clock: Clock;
  readonly #log: Logger | undefined;
  readonly #maxMessages: number;
  readonly #dupWindowMs: number;
  #entries: Entry[] = [];
  #head = 0;
  #lastSeq = 0;
  readonly #consumers = new Map<string, ConsumerState>();
  readonly #dedup = new Map<string, { seq: number; at: number }>();
  #roomWaiters: (() => void)[] = [];
  #closed = false;

  constructor(options: InProcessBusOptions = {}) {
    this.#clock = options.clock ?? new RealClock();
    this.#log = options.logger;
    this.#maxMessages = options.maxMessages ?? 10_000;
    this.#dupWindowMs = options.duplicateWindowMs ?? 120_000;
    if (!(this.#maxMessages >= 1))
      throw new GembaError('GEMBA_INVALID_ARGUMENT', 'maxMessages must be at least 1');
  }

  #checkOpen(): void {
    if (this.#closed) throw new GembaError('GEMBA_BUS_CLOSED', 'the in-process bus is closed');
  }

  get #size(): number {
    return this.#entries.length - this.#head;
  }

  get #firstSeq(): number {
    return this.#entries[this.#head]?.seq ?? this.#lastSeq + 1;
  }

  /** The entry with stream sequence `seq`, if still held. */
  #entry(seq: number): Entry | undefined {
    const first = this.#firstSeq;
    if (seq < first || seq > this.#lastSeq) return undefined;
    return this.#entries[this.#head + (seq - first)];
  }

  #isAcked(c: ConsumerState, e: Entry): boolean {
    return e.seq <= c.ackFloor || c.acked.has(e.seq) || !c.matches(e.subject);
  }

  /** Drops the oldest entries that every consumer has acknowledged while the stream is full. */
  #trim(): void {
    while (this.#size >= this.#maxMessages) {
      const oldest = this.#entries[this.#head] as Entry;
      for (const c of this.#consumers.values()) if (!this.#isAcked(c, oldest)) return;
      this.#entries[this.#head] = undefined as unknown as Entry;
      this.#head++;
      for (const c of this.#consumers.values()) c.acked.delete(oldest.seq);
    }
    if (this.#head > 4096 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
  }

  async publish(subject: string, batch: SampleBatch, options: PublishOptions = {}): Promise<PublishAck> {
    this.#checkOpen();
    validateSubject(subject, false);
    const now = this.#clock.now();
    if (options.msgId !== undefined) {
      const seen = this.#dedup.get(options.msgId);
      if (seen !== undefined && now - seen.at < this.#dupWindowMs) return { seq: seen.seq, duplicate: true };
    }
    this.#trim();
    while (this.#size >= this.#maxMessages) {
      await new Promise<void>((resolve) => this.#roomWaiters.push(resolve));
      this.#checkOpen();
      this.#trim();
    }
    const seq = ++this.#lastSeq;
    this.#entries.push({ seq, subject, publishedAt: now, batch });
    if (options.msgId !== undefined) {
      this.#dedup.set(options.msgId, { seq, at: now });
      if (this.#dedup.size > 100_000) this.#purgeDedup(now);
    }
    for (const c of this.#consumers.values()) c.active?.wake();
    return { seq, duplicate: false };
  }

  #purgeDedup(now: number): void {
    for (const [id, v] of this.#dedup) if (now - v.at >= this.#dupWindowMs) this.#dedup.delete(id);
  }

  #wakePublishers(): void {
    if (this.#roomWaiters.length === 0) return;
    const waiters = this.#roomWaiters;
    this.#roomWaiters = [];
    for (const w of waiters) w();
  }

  #startSeq(from: DeliverFrom): number {
    switch (from.kind) {
      case 'all':
        return this.#firstSeq;
      case 'new':
        return this.#lastSeq + 1;
      case 'sequence':
        return Math.max(from.seq, this.#firstSeq);
      case 'time': {
        for (let i = this.#head; i < this.#entries.length; i++) {
          const e = this.#entries[i] as Entry;
          if (e.publishedAt >= from.ms) return e.seq;
        }
        return this.#lastSeq + 1;
      }
    }
  }

  async consume(options: ConsumeOptions, handler: MessageHandler): Promise<Subscription> {
    this.#checkOpen();
    validateSubject(options.filter, true);
    let c = this.#consumers.get(options.durable);
    if (c === undefined) {
      c = new ConsumerState(
        options.durable,
        options.filter,
        this.#startSeq(options.deliverFrom ?? { kind: 'all' }),
      );
      this.#consumers.set(options.durable, c);
    } else {
      if (c.filter !== options.filter) {
        throw new GembaError(
          'GEMBA_INVALID_ARGUMENT',
          `durable consumer '${options.durable}' exists with filter '${c.filter}', not '${options.filter}'`,
        );
      }
      if (c.active !== undefined) {
        throw new GembaError(
          'GEMBA_INVALID_ARGUMENT',
          `durable consumer '${options.durable}' is already running`,
        );
      }
      // Resume: everything delivered but not acknowledged is delivered again.
      for (const p of c.pending.values()) c.redeliver.set(p.seq, 0);
      c.pending.clear();
    }
    const sub = new ActiveSubscription(
      this,
      c,
      handler,
      options.maxAckPending ?? 1000,
      options.ackWaitMs ?? 30_000,
    );
    c.active = sub;
    sub.start();
    return sub;
  }

  async deleteConsumer(durable: string): Promise<void> {
    const c = this.#consumers.get(durable);
    if (c === undefined) return;
    await c.active?.stop();
    this.#consumers.delete(durable);
    this.#wakePublishers();
  }

  async pending(durable: string): Promise<number> {
    const c = this.#consumers.get(durable);
    if (c === undefined) throw new GembaError('GEMBA_INVALID_ARGUMENT', `no durable consumer '${durable}'`);
    let n = 0;
    for (let i = this.#head; i < this.#entries.length; i++) {
      if (!this.#isAcked(c, this.#entries[i] as Entry)) n++;
    }
    return n;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#consumers.values()].map((c) => c.active?.stop()));
    this.#wakePublishers();
  }

  // ---- used by ActiveSubscription ----

  /** @internal */
  get clock(): Clock {
    return this.#clock;
  }

  /** @internal */
  get logger(): Logger | undefined {
    return this.#log;
  }

  /** @internal The next message to deliver to `c`, or undefined. */
  nextFor(c: ConsumerState, maxAckPending: number): Entry | undefined {
    if (c.redeliver.size > 0) {
      const now = this.#clock.now();
      let best: number | undefined;
      for (const [seq, due] of c.redeliver) if (due <= now && (best === undefined || seq < best)) best = seq;
      if (best !== undefined) {
        c.redeliver.delete(best);
        const e = this.#entry(best);
        if (e !== undefined) return e;
      }
    }
    if (c.pending.size >= maxAckPending) return undefined;
    while (c.cursor <= this.#lastSeq) {
      const e = this.#entry(c.cursor);
      c.cursor++;
      if (e !== undefined && c.matches(e.subject) && !c.acked.has(e.seq)) return e;
    }
    return undefined;
  }

  /** @internal */
  ack(c: ConsumerState, seq: number): void {
    if (!c.pending.delete(seq) && !c.redeliver.delete(seq)) {
      if (seq <= c.ackFloor || c.acked.has(seq)) return;
    }
    c.deliveryCounts.delete(seq);
    c.acked.add(seq);
    // Advance the floor over acknowledged and non-matching messages.
    while (c.ackFloor < c.cursor - 1) {
      const next = c.ackFloor + 1;
      const e = this.#entry(next);
      if (e !== undefined && c.matches(e.subject) && !c.acked.has(next)) break;
      c.acked.delete(next);
      c.ackFloor = next;
    }
    this.#wakePublishers();
  }

  /** @internal */
  nak(c: ConsumerState, seq: number, delayMs: number): void {
    if (!c.pending.delete(seq)) return;
    c.redeliver.set(seq, this.#clock.now() + delayMs);
  }
}

class ActiveSubscription implements Subscription {
  #stopped = false;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  #sweep: TimerHandle | undefined;

  constructor(
    private readonly bus: InProcessBus,
    private readonly c: ConsumerState,
    private readonly handler: MessageHandler,
    private readonly maxAckPending: number,
    private readonly ackWaitMs: number,
  ) {}

  get durable(): string {
    return this.c.durable;
  }

  start(): void {
    this.#loop = this.#run();
    this.#scheduleSweep();
  }

  wake(): void {
    const w = this.#wake;
    if (w !== undefined) {
      this.#wake = undefined;
      w();
    }
  }

  #scheduleSweep(): void {
    const every = Math.max(1, Math.min(this.ackWaitMs / 2, 1000));
    this.#sweep = this.bus.clock.setTimeout(() => {
      if (this.#stopped) return;
      const now = this.bus.clock.now();
      for (const p of this.c.pending.values()) {
        if (now - p.deliveredAt < this.ackWaitMs) break; // pending is in delivery order
        this.c.pending.delete(p.seq);
        this.c.redeliver.set(p.seq, now);
      }
      // Naks with a delay become due with time; look again.
      if (this.c.redeliver.size > 0) this.wake();
      this.#scheduleSweep();
    }, every);
  }

  async #run(): Promise<void> {
    const c = this.c;
    while (!this.#stopped) {
      const e = this.bus.nextFor(c, this.maxAckPending);
      if (e === undefined) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        continue;
      }
      const count = (c.deliveryCounts.get(e.seq) ?? 0) + 1;
      c.deliveryCounts.set(e.seq, count);
      c.pending.set(e.seq, { seq: e.seq, deliveredAt: this.bus.clock.now(), count });
      let done = false;
      const msg: BusMessage = {
        subject: e.subject,
        seq: e.seq,
        publishedAt: e.publishedAt,
        deliveryCount: count,
        batch: e.batch,
        ack: () => {
          if (done) return;
          done = true;
          this.bus.ack(c, e.seq);
          this.wake();
        },
        nak: (delayMs = 0) => {
          if (done) return;
          done = true;
          this.bus.nak(c, e.seq, delayMs);
          this.wake();
        },
      };
      try {
        await this.handler(msg);
      } catch (err: unknown) {
        // A failing handler must not stop the stream; the message is delivered again later.
        this.bus.logger?.error(
          { err, durable: c.durable, seq: e.seq },
          'bus handler failed; message will be redelivered',
        );
        msg.nak(1000);
      }
    }
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#sweep !== undefined) this.bus.clock.clearTimeout(this.#sweep);
    this.wake();
    await this.#loop;
    if (this.c.active === this) this.c.active = undefined;
  }
}
