import {
  type ConsumeOptions,
  GembaError,
  type Logger,
  type MessageHandler,
  type Subscription,
  silentLogger,
  subjectForPath,
} from '@gemba/core';
import type { JetStreamBus } from './jetstream-bus.ts';
import { PartitionLeases } from './partition-leases.ts';

/** Options of {@link startLineConsumers}. */
export interface LineConsumersOptions {
  /** The bus; its connection also carries the leases. */
  bus: JetStreamBus;
  /** Every line path of the plant model (the partitions). */
  lines: readonly string[];
  /** This process's id, unique in the group (letters, digits, `_`, `-`). */
  member: string;
  /** Durable consumer names are `<durablePrefix>-<line path with _ for />`. Default `engine`. */
  durablePrefix?: string;
  /** The handler of one line's messages (acknowledge after the effects are stored). */
  handler: (line: string) => MessageHandler;
  /**
   * Called after this process took a line over, before its consumer starts (e.g. load its
   * state). Returning a {@link LineStart} restarts the line's durable consumer at that stream
   * sequence (e.g. just after the point a warm start restored up to); else it resumes from its
   * acknowledged position.
   */
  onAcquired?: (line: string) => Promise<LineStart | undefined>;
  /** Called after a line's consumer stopped here (released, lost or on stop). */
  onReleased?: (line: string) => Promise<void>;
  /** Consumer settings per line; `ackWaitMs` bounds how long a dead owner's held messages wait (default 5 000). */
  consume?: Partial<Pick<ConsumeOptions, 'maxAckPending' | 'ackWaitMs' | 'deliverFrom'>>;
  /** Lease bucket. Default `gemba-leases`. */
  leaseBucket?: string;
  /** Lease time, ms; a dead member's lines move after about this long. Default 5 000. */
  leaseMs?: number;
  logger?: Logger;
}

/** Where a line's consumer starts after {@link LineConsumersOptions.onAcquired}. */
export interface LineStart {
  /** Stream sequence of the first message to deliver (the durable consumer is recreated there). */
  fromSeq: number;
}

/** A running group member. */
export interface LineConsumers {
  /** The lines this process consumes now. */
  owned(): string[];
  /** Stops every line consumer (held messages are handed back) and releases the leases. */
  stop(): Promise<void>;
}

/** The durable consumer name of a line: `engine-acme_plant1_assembly_line1`. */
export function lineDurable(prefix: string, line: string): string {
  return `${prefix}-${line.replaceAll('/', '_')}`;
}

/**
 * Consumes each line of the plant in exactly one process of a group (the engines): lines are
 * spread with {@link PartitionLeases}; the owner of a line runs its durable consumer on the
 * line's subject, and when the owner dies another process takes the line over and resumes from
 * the acknowledged position (messages the dead owner held come again after `ackWaitMs`).
 *
 * @throws GembaError GEMBA_INVALID_ARGUMENT for a bad member id or line path.
 * @example
 * const group = await startLineConsumers({ bus, lines: model.lines.map((l) => l.path),
 *   member: `engine-${process.pid}`, handler: () => (m) => { engine.ingest(m.batch); m.ack(); } });
 */
export async function startLineConsumers(options: LineConsumersOptions): Promise<LineConsumers> {
  const log = (options.logger ?? silentLogger()).child({ component: 'nats.lines', member: options.member });
  const prefix = options.durablePrefix ?? 'engine';
  const subs = new Map<string, Subscription>();
  for (const line of options.lines) subjectForPath(line); // validates every path up front
  if (!/^[A-Za-z0-9_-]+$/.test(prefix))
    throw new GembaError('GEMBA_INVALID_ARGUMENT', `durable prefix '${prefix}' is not allowed`);
  const leases = await PartitionLeases.start(options.bus.connection, {
    partitions: options.lines,
    member: options.member,
    ...(options.leaseBucket !== undefined ? { bucket: options.leaseBucket } : {}),
    leaseMs: options.leaseMs ?? 5_000,
    ...(options.logger !== undefined ? { logger: options.logger } : {}),
    handlers: {
      acquired: async (line) => {
        const start = await options.onAcquired?.(line);
        const durable = lineDurable(prefix, line);
        // A durable consumer's start cannot be moved: it is created again at the new start
        // (the lease makes this process the line's only consumer).
        if (start !== undefined) await options.bus.deleteConsumer(durable);
        const deliverFrom =
          start !== undefined
            ? { kind: 'sequence' as const, seq: start.fromSeq }
            : options.consume?.deliverFrom;
        const sub = await options.bus.consume(
          {
            durable,
            filter: subjectForPath(line),
            ackWaitMs: options.consume?.ackWaitMs ?? 5_000,
            ...(options.consume?.maxAckPending !== undefined
              ? { maxAckPending: options.consume.maxAckPending }
              : {}),
            ...(deliverFrom !== undefined ? { deliverFrom } : {}),
          },
          options.handler(line),
        );
        subs.set(line, sub);
        log.info({ line }, 'consuming line');
      },
      lost: async (line) => {
        const sub = subs.get(line);
        subs.delete(line);
        await sub?.stop();
        await options.onReleased?.(line);
        log.info({ line }, 'stopped consuming line');
      },
    },
  });
  return {
    owned: () => [...subs.keys()].sort(),
    stop: () => leases.stop(),
  };
}
