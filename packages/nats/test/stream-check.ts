import type { BusMessage } from '@gemba/core';
import { tagOf } from '@gemba/core/testing';

/** What a consumer saw of a run of tagged batches 0..n-1. */
export interface DeliveryReport {
  /** Distinct stream messages delivered (by sequence). */
  distinctMessages: number;
  /** Tags stored more than once (a batch stored twice under two sequences). */
  duplicateTags: number[];
  /** Tags never delivered. */
  missingTags: number[];
  /** Deliveries beyond the first of a message (at-least-once redelivery, not duplicates). */
  redeliveries: number;
}

/** Checks deliveries against tags 0..n-1: every tag once by stream sequence. */
export function checkDeliveries(delivered: readonly BusMessage[], n: number): DeliveryReport {
  const bySeq = new Map<number, number>();
  let redeliveries = 0;
  for (const m of delivered) {
    if (bySeq.has(m.seq)) redeliveries++;
    bySeq.set(m.seq, tagOf(m.batch));
  }
  const seen = new Map<number, number>();
  for (const tag of bySeq.values()) seen.set(tag, (seen.get(tag) ?? 0) + 1);
  const missingTags: number[] = [];
  for (let i = 0; i < n; i++) if (!seen.has(i)) missingTags.push(i);
  return {
    distinctMessages: bySeq.size,
    duplicateTags: [...seen].filter(([, c]) => c > 1).map(([t]) => t),
    missingTags,
    redeliveries,
  };
}
