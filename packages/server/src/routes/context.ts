import type { Logger } from '@gemba/core';
import { z } from 'zod';
import type { AuditLog } from '../audit.ts';
import type { LiveHub } from '../live-hub.ts';
import type { GembaRuntime, OrderPort } from '../runtime/runtime.ts';
import type { WebhookNotifier } from '../webhooks.ts';

/** What route modules are built from. */
export interface ApiContext {
  runtime: GembaRuntime;
  audit: AuditLog;
  hub: LiveHub;
  orders: OrderPort;
  webhooks: WebhookNotifier;
  logger: Logger;
}

/** Resolves a `{ from?, to? }` query (numbers or ISO strings) into a range in ms. */
export function resolveRange(
  q: { from?: number | string | undefined; to?: number | string | undefined },
  nowMs: number,
  defaultSpanMs = 3_600_000,
): { fromMs: number; toMs: number } {
  const conv = (v: number | string): number => (typeof v === 'number' ? v : Date.parse(v));
  const toMs = q.to === undefined ? nowMs : conv(q.to);
  const fromMs = q.from === undefined ? toMs - defaultSpanMs : conv(q.from);
  return { fromMs, toMs };
}

/** A time given as ms since epoch or ISO 8601. */
// Fractions of a millisecond (an accelerated clock's time) are floored.
export const timeParam = z.union([
  z.coerce.number().nonnegative().transform(Math.floor),
  z.iso.datetime({ offset: true }),
]);

/** A comma-separated list of signal paths in the query string. */
export const pathList = z
  .string()
  .min(1)
  .transform((s) =>
    s
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p.length > 0),
  );
