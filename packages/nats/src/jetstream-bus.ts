import {
  type Bus,
  type BusMessage,
  type Clock,
  type ConsumeOptions,
  type DeliverFrom,
  decodeBatch,
  encodeBatch,
  GembaError,
  isGembaError,
  type Logger,
  type MessageHandler,
  type PublishAck,
  type PublishOptions,
  RealClock,
  type SampleBatch,
  type Subscription,
  silentLogger,
} from '@gemba/core';
import {
  AckPolicy,
  type Consumer,
  type ConsumerConfig,
  type ConsumerInfo,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import { ClosedConnectionError, type NatsConnection, nanos, nuid } from '@nats-io/transport-node';
import { type ConnectNatsOptions, connectNats } from './connect.ts';
import { StreamLayout, type StreamLayoutOptions, type StreamRef } from './stream-layout.ts';

/** How the bus creates the streams it publishes to (existing streams are used as they are). */
export interface StreamSettings {
  /** Copies of every message in a cluster (1, 3 or 5). Default 1. */
  replicas?: number;
  /** `file` (default, survives a server restart) or `memory`. */
  storage?: 'file' | 'memory';
  /** Oldest messages are discarded beyond this age, ms. Default 7 days; 0 = unlimited. */
  maxAgeMs?: number;
  /** Oldest messages are discarded beyond this size, bytes. Default unlimited (-1). */
  maxBytes?: number;
  /** How long a `msgId` is remembered for deduplication, ms. Default 120 000. */
  duplicateWindowMs?: number;
}

/** Options of {@link JetStreamBus}. */
export interface JetStreamBusOptions {
  /** How subjects map to streams (default: one stream per site, names `GEMBA_<enterprise>_<site>`). */
  layout?: StreamLayoutOptions;
  stream?: StreamSettings;
  /**
   * How long one `publish` keeps retrying (NATS restarting, cluster electing a leader) before it
   * fails with GEMBA_BUS_UNAVAILABLE, ms. Default 30 000; 0 = one attempt.
   */
  publishTimeoutMs?: number;
  /** Wait for one publish acknowledgement, ms. Default 5 000. */
  ackTimeoutMs?: number;
  /** Most publishes on the wire without acknowledgement; further publishes wait. Default 1 000. */
  maxInFlightPublishes?: number;
  /** Messages a consumer asks for in one pull (capped by its `maxAckPending`). Default 256. */
  pullBatch?: number;
  /**
   * How long one pull request waits for messages, ms (at least 1 000). Stopping a consumer takes
   * up to this long, as it waits for its last pull to end. Default 1 000.
   */
  pullExpiresMs?: number;
  /**
   * How long {@link JetStreamBus.create} waits for JetStream to answer (a cluster that is still
   * electing its meta leader), ms. Default 0: one attempt.
   */
  readyTimeoutMs?: number;
  /** True when {@link JetStreamBus.close} closes the connection too. Default false. */
  ownsConnection?: boolean;
  logger?: Logger;
  /** Time for retry waits. Default the wall clock. */
  clock?: Clock;
}

const DAY_MS = 86_400_000;

/** A counting semaphore bounding publishes in flight. */
class Slots {
  #free: number;
  #waiters: (() => void)[] = [];
  constructor(n: number) {
    this.#free = n;
  }
  async acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }
  release(): void {
    const w = this.#waiters.shift();
    if (w !== undefined) w();
    else this.#free++;
  }
}

function apiCode(err: unknown): number | undefined {
  return err instanceof JetStreamApiError ? err.code : undefined;
}

function toDeliverConfig(from: DeliverFrom): Partial<ConsumerConfig> {
  switch (from.kind) {
    case 'all':
      return { deliver_policy: DeliverPolicy.All };
    case 'new':
      return { deliver_policy: DeliverPolicy.New };
    case 'sequence':
      return { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: Math.max(1, from.seq) };
    case 'time':
      return { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(from.ms).toISOString() };
  }
}

/**
 * The {@link Bus} on NATS JetStream: batches encoded with `encodeBatch`, one stream per site
 * (created on first use), durable pull consumers with explicit acknowledgement, `maxAckPending`
 * for backpressure, `ackWait` redelivery, replay from the start, a sequence or a time, and
 * deduplication by `Nats-Msg-Id`. Publishes retry through an outage with the same message id,
 * so a retry never stores a batch twice (every publish gets an id when the caller gives none).
 *
 * Differences from the in-process bus: `seq` counts per stream (per site), not across the
 * bus; messages are kept by age/size limits, not until acknowledged; a consumer's filter must
 * name its site literally (see {@link StreamLayout}).
 *
 * @example
 * const bus = await JetStreamBus.connect({ servers: 'nats://127.0.0.1:4222' });
 * await bus.publish('gemba.samples.acme.plant1.assembly.line1', batch);
 */
export class JetStreamBus implements Bus {
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #layout: StreamLayout;
  readonly #stream: Required<StreamSettings>;
  readonly #publishTimeoutMs: number;
  readonly #ackTimeoutMs: number;
  readonly #pullBatch: number;
  readonly #pullExpiresMs: number;
  readonly #ownsConnection: boolean;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #slots: Slots;
  readonly #streams = new Map<string, Promise<void>>();
  readonly #refs = new Map<string, StreamRef>();
  /** Durable consumer name → its stream, for consumers this bus created or resumed. */
  readonly #durables = new Map<string, string>();
  readonly #active = new Map<string, JetStreamSubscription>();
  #closed = false;
  readonly #stats = { published: 0, duplicates: 0, publishRetries: 0, publishFailures: 0 };

  /**
   * Wraps a connection (see {@link connectNats}); `jsm` is the JetStream manager on it.
   * Prefer {@link JetStreamBus.connect} or {@link JetStreamBus.create}.
   */
  constructor(nc: NatsConnection, jsm: JetStreamManager, options: JetStreamBusOptions = {}) {
    this.#nc = nc;
    this.#jsm = jsm;
    this.#js = jetstream(nc, { timeout: options.ackTimeoutMs ?? 5_000 });
    this.#layout = new StreamLayout(options.layout);
    this.#stream = {
      replicas: options.stream?.replicas ?? 1,
      storage: options.stream?.storage ?? 'file',
      maxAgeMs: options.stream?.maxAgeMs ?? 7 * DAY_MS,
      maxBytes: options.stream?.maxBytes ?? -1,
      duplicateWindowMs: options.stream?.duplicateWindowMs ?? 120_000,
    };
    this.#publishTimeoutMs = options.publishTimeoutMs ?? 30_000;
    this.#ackTimeoutMs = options.ackTimeoutMs ?? 5_000;
    this.#pullBatch = options.pullBatch ?? 256;
    this.#pullExpiresMs = Math.max(1_000, options.pullExpiresMs ?? 1_000);
    this.#ownsConnection = options.ownsConnection ?? false;
    this.#log = (options.logger ?? silentLogger()).child({ component: 'nats.bus' });
    this.#clock = options.clock ?? new RealClock();
    this.#slots = new Slots(options.maxInFlightPublishes ?? 1_000);
  }

  /**
   * A bus on an existing connection, which stays the caller's to close unless
   * `ownsConnection` is set.
   * @throws GembaError GEMBA_BUS_UNAVAILABLE when JetStream is not enabled on the server.
   */
  static async create(nc: NatsConnection, options: JetStreamBusOptions = {}): Promise<JetStreamBus> {
    const readyBy = Date.now() + (options.readyTimeoutMs ?? 0);
    for (;;) {
      try {
        const jsm = await jetstreamManager(nc, { timeout: options.ackTimeoutMs ?? 5_000 });
        return new JetStreamBus(nc, jsm, options);
      } catch (err: unknown) {
        if (Date.now() >= readyBy || nc.isClosed()) {
          throw new GembaError('GEMBA_BUS_UNAVAILABLE', `JetStream is not available on ${nc.getServer()}`, {
            cause: err,
          });
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  /**
   * Connects to NATS and returns a bus that owns (and on close, closes) the connection.
   * @throws GembaError GEMBA_BUS_UNAVAILABLE when no server can be reached or JetStream is off.
   */
  static async connect(
    connection: ConnectNatsOptions,
    options: Omit<JetStreamBusOptions, 'ownsConnection'> = {},
  ): Promise<JetStreamBus> {
    const nc = await connectNats(connection);
    try {
      return await JetStreamBus.create(nc, { ...options, ownsConnection: true });
    } catch (err: unknown) {
      await nc.close();
      throw err;
    }
  }

  /** The NATS connection the bus uses (for the KV twin store, admin tools). */
  get connection(): NatsConnection {
    return this.#nc;
  }

  /** The JetStream manager of this connection. */
  get manager(): JetStreamManager {
    return this.#jsm;
  }

  /**
   * Counters since the bus was created: batches stored, publishes recognised as duplicates,
   * publish attempts retried, publishes that failed for good.
   */
  get stats(): Readonly<{
    published: number;
    duplicates: number;
    publishRetries: number;
    publishFailures: number;
  }> {
    return { ...this.#stats };
  }

  /** The subject → stream mapping in use. */
  get layout(): StreamLayout {
    return this.#layout;
  }

  #checkOpen(): void {
    if (this.#closed || this.#nc.isClosed())
      throw new GembaError('GEMBA_BUS_CLOSED', `the JetStream bus on ${this.#nc.getServer()} is closed`);
  }

  #refForSubject(subject: string): StreamRef {
    let ref = this.#refs.get(subject);
    if (ref === undefined) {
      ref = this.#layout.forSubject(subject);
      if (this.#refs.size > 10_000) this.#refs.clear();
      this.#refs.set(subject, ref);
    }
    return ref;
  }

  /**
   * Creates the stream of `ref` unless it exists (idempotent, cached; safe when several
   * processes race to create it).
   * @throws GembaError GEMBA_CONFIG_INVALID when a stream of that name stores other subjects or
   * the subjects overlap another stream; GEMBA_BUS_UNAVAILABLE when JetStream does not answer.
   */
  ensureStream(ref: StreamRef): Promise<void> {
    let p = this.#streams.get(ref.name);
    if (p === undefined) {
      p = this.#createStream(ref);
      this.#streams.set(ref.name, p);
      p.catch(() => this.#streams.delete(ref.name));
    }
    return p;
  }

  async #checkExisting(ref: StreamRef): Promise<boolean> {
    try {
      const info = await this.#jsm.streams.info(ref.name);
      if (!(info.config.subjects ?? []).includes(ref.subjects)) {
        throw new GembaError(
          'GEMBA_CONFIG_INVALID',
          `stream '${ref.name}' exists with subjects ${JSON.stringify(info.config.subjects)}, not '${ref.subjects}'`,
        );
      }
      return true;
    } catch (err: unknown) {
      if (apiCode(err) === JetStreamApiCodes.StreamNotFound) return false;
      throw err;
    }
  }

  async #createStream(ref: StreamRef): Promise<void> {
    try {
      if (await this.#checkExisting(ref)) return;
      const s = this.#stream;
      try {
        await this.#jsm.streams.add({
          name: ref.name,
          subjects: [ref.subjects],
          retention: RetentionPolicy.Limits,
          discard: DiscardPolicy.Old,
          storage: s.storage === 'memory' ? StorageType.Memory : StorageType.File,
          num_replicas: s.replicas,
          max_age: s.maxAgeMs > 0 ? nanos(s.maxAgeMs) : 0,
          max_bytes: s.maxBytes,
          duplicate_window: nanos(s.duplicateWindowMs),
        });
        this.#log.info({ stream: ref.name, subjects: ref.subjects, replicas: s.replicas }, 'stream created');
      } catch (err: unknown) {
        // Another process may have created it meanwhile.
        if (await this.#checkExisting(ref).catch(() => false)) return;
        throw new GembaError(
          'GEMBA_CONFIG_INVALID',
          `cannot create stream '${ref.name}' for '${ref.subjects}': ${(err as Error).message}`,
          { cause: err },
        );
      }
    } catch (err: unknown) {
      if (isGembaError(err)) throw err;
      throw new GembaError('GEMBA_BUS_UNAVAILABLE', `JetStream did not answer about stream '${ref.name}'`, {
        cause: err,
      });
    }
  }

  /**
   * Publishes a batch; resolves once JetStream has stored it (or recognised a duplicate).
   * Call it without awaiting each to pipeline (up to `maxInFlightPublishes` on the wire).
   * @throws GembaError GEMBA_BUS_INVALID_SUBJECT, GEMBA_BUS_CLOSED, GEMBA_BUS_UNAVAILABLE (after
   * retrying for `publishTimeoutMs`).
   */
  async publish(subject: string, batch: SampleBatch, options: PublishOptions = {}): Promise<PublishAck> {
    this.#checkOpen();
    const ref = this.#refForSubject(subject);
    await this.ensureStream(ref);
    const data = encodeBatch(batch);
    // A retry must carry the same id, so a batch stored before its ack was lost is not stored twice.
    const msgID = options.msgId ?? nuid.next();
    const deadline = this.#clock.now() + this.#publishTimeoutMs;
    await this.#slots.acquire();
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          const ack = await this.#js.publish(subject, data, { msgID, timeout: this.#ackTimeoutMs });
          if (ack.duplicate) this.#stats.duplicates++;
          else this.#stats.published++;
          return { seq: ack.seq, duplicate: ack.duplicate };
        } catch (err: unknown) {
          this.#checkOpen();
          const retryable = !(err instanceof ClosedConnectionError) && apiCode(err) === undefined;
          if (!retryable || this.#clock.now() >= deadline) {
            this.#stats.publishFailures++;
            throw new GembaError(
              'GEMBA_BUS_UNAVAILABLE',
              `publish to '${subject}' (stream ${ref.name}) failed after ${attempt + 1} attempt(s): ${(err as Error).message}`,
              { cause: err, details: { subject, stream: ref.name, msgId: msgID } },
            );
          }
          this.#stats.publishRetries++;
          if (attempt === 0) this.#log.warn({ subject, err }, 'publish failed; retrying');
          // The stream may be gone (memory storage after a restart): check it again.
          this.#streams.delete(ref.name);
          await this.#clock.sleep(Math.min(50 * 2 ** attempt, 1_000));
          await this.ensureStream(ref).catch(() => undefined);
        }
      }
    } finally {
      this.#slots.release();
    }
  }

  async #streamOfDurable(durable: string): Promise<string | undefined> {
    const known = this.#durables.get(durable);
    if (known !== undefined) return known;
    const prefix = `${this.#layout.namePrefix}_`;
    for await (const name of this.#jsm.streams.names()) {
      if (!name.startsWith(prefix)) continue;
      try {
        await this.#jsm.consumers.info(name, durable);
        this.#durables.set(durable, name);
        return name;
      } catch (err: unknown) {
        if (apiCode(err) !== JetStreamApiCodes.ConsumerNotFound) throw err;
      }
    }
    return undefined;
  }

  /**
   * Starts (or resumes) a durable pull consumer on the stream of `options.filter`.
   * @throws GembaError GEMBA_BUS_INVALID_SUBJECT when the filter does not name one site;
   * GEMBA_INVALID_ARGUMENT when the durable exists with another filter or already runs in this
   * bus; GEMBA_BUS_UNAVAILABLE when JetStream does not answer.
   */
  async consume(options: ConsumeOptions, handler: MessageHandler): Promise<Subscription> {
    this.#checkOpen();
    const ref = this.#layout.forFilter(options.filter);
    const { durable } = options;
    if (this.#active.has(durable)) {
      throw new GembaError('GEMBA_INVALID_ARGUMENT', `durable consumer '${durable}' is already running`);
    }
    await this.ensureStream(ref);
    const maxAckPending = options.maxAckPending ?? 1_000;
    const ackWaitMs = options.ackWaitMs ?? 30_000;
    try {
      let info: ConsumerInfo | undefined;
      try {
        info = await this.#jsm.consumers.info(ref.name, durable);
      } catch (err: unknown) {
        if (apiCode(err) !== JetStreamApiCodes.ConsumerNotFound) throw err;
      }
      if (info === undefined) {
        await this.#jsm.consumers.add(ref.name, {
          durable_name: durable,
          filter_subject: options.filter,
          ack_policy: AckPolicy.Explicit,
          ack_wait: nanos(ackWaitMs),
          max_ack_pending: maxAckPending,
          max_deliver: -1,
          ...toDeliverConfig(options.deliverFrom ?? { kind: 'all' }),
        });
      } else {
        if (info.config.filter_subject !== options.filter) {
          throw new GembaError(
            'GEMBA_INVALID_ARGUMENT',
            `durable consumer '${durable}' on stream ${ref.name} exists with filter '${info.config.filter_subject}', not '${options.filter}'`,
          );
        }
        if (info.config.max_ack_pending !== maxAckPending || info.config.ack_wait !== nanos(ackWaitMs)) {
          await this.#jsm.consumers.update(ref.name, durable, {
            max_ack_pending: maxAckPending,
            ack_wait: nanos(ackWaitMs),
          });
        }
      }
      this.#durables.set(durable, ref.name);
      const consumer = await this.#js.consumers.get(ref.name, durable);
      const pull = {
        batch: Math.max(1, Math.min(this.#pullBatch, maxAckPending)),
        expiresMs: this.#pullExpiresMs,
      };
      const sub = new JetStreamSubscription(
        durable,
        ref.name,
        consumer,
        pull,
        handler,
        this.#nc,
        this.#log,
        () => this.#active.delete(durable),
      );
      this.#active.set(durable, sub);
      return sub;
    } catch (err: unknown) {
      if (isGembaError(err)) throw err;
      throw new GembaError(
        'GEMBA_BUS_UNAVAILABLE',
        `cannot start consumer '${durable}' on stream ${ref.name}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  /** Deletes a durable consumer and its position; stops it first if it runs in this bus. */
  async deleteConsumer(durable: string): Promise<void> {
    this.#checkOpen();
    await this.#active.get(durable)?.stop();
    const stream = await this.#streamOfDurable(durable);
    if (stream === undefined) return;
    try {
      await this.#jsm.consumers.delete(stream, durable);
    } catch (err: unknown) {
      if (apiCode(err) !== JetStreamApiCodes.ConsumerNotFound) throw err;
    }
    this.#durables.delete(durable);
  }

  /**
   * Messages not yet acknowledged by `durable`: not yet delivered plus delivered and unacknowledged.
   * @throws GembaError GEMBA_INVALID_ARGUMENT when there is no such consumer.
   */
  async pending(durable: string): Promise<number> {
    this.#checkOpen();
    const stream = await this.#streamOfDurable(durable);
    if (stream === undefined)
      throw new GembaError('GEMBA_INVALID_ARGUMENT', `no durable consumer '${durable}'`);
    const info = await this.#jsm.consumers.info(stream, durable);
    return info.num_pending + info.num_ack_pending;
  }

  /** Stops every consumer (unsettled messages are handed back), then closes an owned connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    const subs = [...this.#active.values()];
    await Promise.all(subs.map((s) => s.stop()));
    this.#closed = true;
    if (this.#ownsConnection && !this.#nc.isClosed()) await this.#nc.close();
  }
}

/** A running durable pull consumer: delivers one message at a time, in order, to the handler. */
class JetStreamSubscription implements Subscription {
  readonly #unsettled = new Set<JsMsg>();
  readonly #loop: Promise<void>;
  #stopped = false;
  #stopping: Promise<void> | undefined;
  #wakeRetry: (() => void) | undefined;

  constructor(
    readonly durable: string,
    private readonly stream: string,
    private readonly consumer: Consumer,
    private readonly pull: { batch: number; expiresMs: number },
    private readonly handler: MessageHandler,
    private readonly nc: NatsConnection,
    private readonly log: Logger,
    private readonly onStopped: () => void,
  ) {
    this.#loop = this.#run();
  }

  // Pull requests that end by themselves (batch filled or expired) rather than one long
  // `consume()`: when the subscription stops, no pull request of it is left at the server, so a
  // message handed back with a nak goes to the next consumer of this name, not to a dead inbox.
  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      try {
        const iter = await this.consumer.fetch({
          max_messages: this.pull.batch,
          expires: this.pull.expiresMs,
        });
        for await (const jm of iter) {
          if (this.#stopped)
            this.#unsettled.add(jm); // arrived while stopping: handed back below
          else await this.#deliver(jm);
        }
        failures = 0;
      } catch (err: unknown) {
        if (this.#stopped) break;
        if (this.nc.isClosed()) {
          this.log.error({ err, durable: this.durable }, 'connection closed; consumer stopped');
          break;
        }
        if (failures++ === 0) this.log.warn({ err, durable: this.durable }, 'pull failed; retrying');
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.min(50 * 2 ** failures, 2_000));
          this.#wakeRetry = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.#wakeRetry = undefined;
      }
    }
  }

  async #deliver(jm: JsMsg): Promise<void> {
    let batch: SampleBatch;
    try {
      batch = decodeBatch(jm.data);
    } catch (err: unknown) {
      // Not a batch: redelivering it cannot help. Terminate it and keep the stream flowing.
      this.log.error(
        { err, durable: this.durable, stream: this.stream, seq: jm.seq, subject: jm.subject },
        'message is not a sample batch; dropped',
      );
      jm.term();
      return;
    }
    this.#unsettled.add(jm);
    let done = false;
    const msg: BusMessage = {
      subject: jm.subject,
      seq: jm.seq,
      publishedAt: Math.floor(jm.info.timestampNanos / 1e6),
      deliveryCount: jm.info.deliveryCount,
      batch,
      ack: () => {
        if (done) return;
        done = true;
        this.#unsettled.delete(jm);
        jm.ack();
      },
      nak: (delayMs?: number) => {
        if (done) return;
        done = true;
        this.#unsettled.delete(jm);
        jm.nak(delayMs);
      },
    };
    try {
      await this.handler(msg);
    } catch (err: unknown) {
      // A failing handler must not stop the stream; the message is delivered again later.
      this.log.error(
        { err, durable: this.durable, seq: jm.seq },
        'bus handler failed; message will be redelivered',
      );
      msg.nak(1_000);
    }
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#stopped = true;
    this.#wakeRetry?.();
    await this.#loop;
    // Hand back what this subscription holds but did not settle, so the next consumer of this
    // name gets it at once rather than after the ack wait.
    if (!this.nc.isClosed()) {
      for (const jm of this.#unsettled) {
        try {
          jm.nak();
        } catch (err: unknown) {
          // The connection went away meanwhile: the server redelivers after the ack wait.
          this.log.warn({ err, durable: this.durable }, 'could not hand back a message');
          break;
        }
      }
    }
    this.#unsettled.clear();
    if (!this.nc.isClosed()) await this.nc.flush().catch(() => undefined);
    this.onStopped();
  }
}
