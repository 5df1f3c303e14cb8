import { decodeBatch, type SampleBatch } from '@gemba/core';
import { JetStreamApiCodes, JetStreamApiError, type MsgRequest } from '@nats-io/jetstream';
import type { JetStreamBus } from './jetstream-bus.ts';

/**
 * Where a warm start from the historian meets the stream: the historian holds every sample of
 * the messages on a subject up to `seq`; restore as of `asOfMs`, then consume from `seq + 1`.
 */
export interface RestorePoint {
  /** Stream sequence: every message of the subject up to here is in the historian (0: none). */
  seq: number;
  /**
   * Source time to restore as of, ms: the newest sample time in the message at `seq`; when that
   * message is gone or another subject's (JetStream may move a filtered consumer's ack floor past
   * other subjects' messages), or `seq` is 0, just before the oldest sample of the subject's next
   * message; with no later message, `Infinity` (everything the historian holds).
   */
  asOfMs: number;
}

function minMax(batch: SampleBatch): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const t of batch.ts) {
    if (t < lo) lo = t;
    if (t > hi) hi = t;
  }
  return [lo, hi];
}

/**
 * The point to warm-start a line from, given the durable consumer that writes the line's
 * subject to the historian (it acknowledges a message once its append is durable, so its ack
 * floor is a stream position the historian covers completely).
 *
 * The cut is exact when the messages of the subject are in source-time order (one gateway per
 * line publishes them so): every sample up to `asOfMs` is in a message up to `seq`, every later
 * one in a message after it. A sample published out of order across the cut is restored from
 * the historian when it is there, else taken from the stream unless its signal already has a
 * newer value.
 *
 * @throws what JetStream throws when it does not answer (a missing consumer or message is not
 * an error).
 * @example
 * const point = await restorePoint(bus, subjectForPath(line), lineDurable('historian', line));
 * await engine.restore({ line, asOfMs: point.asOfMs });
 * // then consume the line from point.seq + 1
 */
export async function restorePoint(
  bus: JetStreamBus,
  filter: string,
  historianDurable: string,
): Promise<RestorePoint> {
  const stream = bus.layout.forFilter(filter).name;
  let seq = 0;
  try {
    seq = (await bus.manager.consumers.info(stream, historianDurable)).ack_floor.stream_seq;
  } catch (err: unknown) {
    const code = err instanceof JetStreamApiError ? err.code : undefined;
    // No stream yet: nothing was published, the historian holds whatever it holds.
    if (code === JetStreamApiCodes.StreamNotFound) return { seq: 0, asOfMs: Number.POSITIVE_INFINITY };
    if (code !== JetStreamApiCodes.ConsumerNotFound) throw err;
  }
  const batchAt = async (query: MsgRequest | { seq: number; next_by_subj: string }) => {
    // STREAM.MSG.GET takes `next_by_subj` (the first message on the subject at or after `seq`)
    // since nats-server 2.9; the client types list it for direct gets only.
    const m = await bus.manager.streams.getMessage(stream, query as MsgRequest);
    // Another subject's message at that sequence says nothing about this one's source times.
    const ours = m !== null && (m.subject === filter || /[*>]/.test(filter));
    return ours ? decodeBatch(m.data) : undefined;
  };
  if (seq > 0) {
    const at = await batchAt({ seq });
    if (at !== undefined && at.length > 0) return { seq, asOfMs: minMax(at)[1] };
  }
  const next = await batchAt({ seq: seq + 1, next_by_subj: filter });
  if (next !== undefined && next.length > 0) return { seq, asOfMs: minMax(next)[0] - 1 };
  return { seq, asOfMs: Number.POSITIVE_INFINITY };
}
