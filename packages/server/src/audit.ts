import { randomUUID } from 'node:crypto';
import type { Clock, Historian, HistorianEvent } from '@gemba/core';
import type { Actor } from './runtime/runtime.ts';

/** The `data` of a historian event of kind `audit`: one write through the API. */
export interface AuditData {
  /** Token name of who did it. */
  who: string;
  role: string;
  /** What was done, e.g. `setpoint.write`, `alarm.ack`, `order.upsert`. */
  action: string;
  /** The value before the write (null when there was none). */
  oldValue: unknown;
  /** The value after the write. */
  newValue: unknown;
  /** Further facts, e.g. a comment or a job id. */
  details?: Record<string, unknown>;
}

/**
 * Records every write made through the API as a historian event of kind `audit`
 * (who, what, when, old and new value). Resolves once the record is durable.
 */
export class AuditLog {
  readonly #historian: Historian;
  readonly #clock: Clock;

  constructor(historian: Historian, clock: Clock) {
    this.#historian = historian;
    this.#clock = clock;
  }

  /** Records one write about `target` (a signal, asset, alarm or order path/id). */
  async record(
    actor: Actor,
    action: string,
    target: string,
    oldValue: unknown,
    newValue: unknown,
    details?: Record<string, unknown>,
  ): Promise<HistorianEvent> {
    const data: AuditData = {
      who: actor.name,
      role: actor.role,
      action,
      oldValue: oldValue ?? null,
      newValue: newValue ?? null,
    };
    if (details !== undefined) data.details = details;
    const event: HistorianEvent = {
      id: `audit:${randomUUID()}`,
      kind: 'audit',
      source: target,
      ts: this.#clock.now(),
      data: data as unknown as Record<string, unknown>,
    };
    await this.#historian.appendEvents([event]);
    return event;
  }
}
