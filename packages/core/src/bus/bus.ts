import type { SampleBatch } from '../sample.ts';

/**
 * Where a new durable consumer starts reading. An existing durable consumer always resumes
 * after its acknowledged position, whatever it is given here.
 */
export type DeliverFrom =
  | { kind: 'all' }
  | { kind: 'new' }
  | { kind: 'sequence'; seq: number }
  | { kind: 'time'; ms: number };

/** A batch as delivered to a consumer. */
export interface BusMessage {
  subject: string;
  /** Stream sequence number: strictly increasing within its stream (the whole in-process bus; one site's stream on JetStream). */
  seq: number;
  /** When the bus accepted it, ms since epoch (bus clock). */
  publishedAt: number;
  /** How many times this message has been delivered to this consumer (1 the first time). */
  deliveryCount: number;
  batch: SampleBatch;
  /** Marks the message processed; it will not be delivered to this consumer again. */
  ack(): void;
  /** Asks for redelivery (after `delayMs`, default at once). */
  nak(delayMs?: number): void;
}

/** Options of {@link Bus.publish}. */
export interface PublishOptions {
  /** Deduplication id: a second publish with the same id within the window is acknowledged but not stored. */
  msgId?: string;
}

/** The bus's answer to a publish: where the message was stored. */
export interface PublishAck {
  seq: number;
  /** True when `msgId` was seen before and nothing new was stored. */
  duplicate: boolean;
}

/** Options of {@link Bus.consume}. */
export interface ConsumeOptions {
  /** Durable name: a consumer with the same name resumes where the last one acknowledged. */
  durable: string;
  /** Subject filter with NATS wildcards: `*` one token, `>` the rest. */
  filter: string;
  deliverFrom?: DeliverFrom;
  /** Most messages delivered but not acknowledged at once (backpressure); default 1000. */
  maxAckPending?: number;
  /** Redeliver a message not acknowledged within this time, ms; default 30 000. */
  ackWaitMs?: number;
}

/** A running consumer. */
export interface Subscription {
  readonly durable: string;
  /** Stops delivery; unacknowledged messages stay pending for the next consumer of that name. */
  stop(): Promise<void>;
}

/** A handler's result is awaited before the next delivery to it (per-subscription order). */
export type MessageHandler = (msg: BusMessage) => void | Promise<void>;

/**
 * The bus: batches on subjects derived from namespace paths, durable consumers with
 * acknowledgement and replay from a position. The in-process bus and the NATS JetStream bus
 * pass the same contract suite (`busContractSuite` in `@gemba/core/testing`).
 *
 * Guarantees: per-subject order; at-least-once delivery to every durable consumer (a message
 * is redelivered until acknowledged); a slow consumer neither loses data nor grows memory
 * without bound: deliveries are bounded by `maxAckPending`, and the stream by its limits (the
 * in-process bus makes publishers wait for room; JetStream bounds publishes in flight and
 * keeps the backlog on disk).
 */
export interface Bus {
  /** Publishes a batch; resolves once the bus has stored it. */
  publish(subject: string, batch: SampleBatch, options?: PublishOptions): Promise<PublishAck>;
  /** Starts (or resumes) a durable consumer; `handler` receives messages in order. */
  consume(options: ConsumeOptions, handler: MessageHandler): Promise<Subscription>;
  /** Deletes a durable consumer and its position. */
  deleteConsumer(durable: string): Promise<void>;
  /** Messages matching `filter` not yet acknowledged by `durable` (the lag). */
  pending(durable: string): Promise<number>;
  /** Closes the bus; later calls fail with GEMBA_BUS_CLOSED. */
  close(): Promise<void>;
}
