import { randomUUID } from 'node:crypto';
import type { Clock, Historian, Logger } from '@gemba/core';
import { z } from 'zod';
import { ALARM_PRIORITIES, type AlarmPort, type AlarmTransition } from './runtime/runtime.ts';

/** One webhook subscription for alarm notifications. */
export const webhookSchema = z.strictObject({
  id: z
    .string()
    .min(1)
    .default(() => randomUUID()),
  /** Where notifications are POSTed as JSON. */
  url: z.url({ protocol: /^https?$/ }),
  /** Only alarms below one of these path prefixes (e.g. an area path); all when empty. */
  areas: z.array(z.string().min(1)).default([]),
  /** Only alarms of at least this priority. */
  minPriority: z.enum(ALARM_PRIORITIES as ['low', 'medium', 'high', 'urgent']).default('low'),
  /** Which transitions to notify. */
  events: z.array(z.enum(['raise', 'ack', 'clear', 'shelve'])).default(['raise', 'ack', 'clear']),
});
/** A webhook subscription (input form). */
export type WebhookInput = z.input<typeof webhookSchema>;
/** A webhook subscription. */
export type Webhook = z.output<typeof webhookSchema>;

/** Options of {@link WebhookNotifier}. */
export interface WebhookNotifierOptions {
  historian: Historian;
  clock: Clock;
  logger: Logger;
  webhooks?: readonly WebhookInput[];
  /** Attempts per notification (first try included). Default 5. */
  maxAttempts?: number;
  /** First retry delay, real ms; doubles per attempt. Default 1000. */
  backoffMs?: number;
  /** Per-request timeout, real ms. Default 5000. */
  timeoutMs?: number;
}

/** The outcome of delivering one notification, as written to the alarm journal. */
export interface DeliveryRecord {
  type: 'notification';
  webhook: string;
  url: string;
  transition: AlarmTransition['type'];
  alarm: string;
  status: 'delivered' | 'failed';
  attempts: number;
  httpStatus?: number;
  error?: string;
}

/**
 * Sends alarm raise / acknowledge / clear notifications to webhooks, filtered by area and
 * priority, retried with exponential backoff; each delivery's outcome is written to the
 * alarm journal (historian events of kind `alarm`, `data.type = 'notification'`).
 */
export class WebhookNotifier {
  readonly #opts: Required<Omit<WebhookNotifierOptions, 'webhooks'>>;
  readonly #hooks = new Map<string, Webhook>();
  readonly #inflight = new Set<Promise<void>>();
  #unsubscribe: (() => void) | undefined;
  #closed = false;

  constructor(options: WebhookNotifierOptions) {
    this.#opts = {
      historian: options.historian,
      clock: options.clock,
      logger: options.logger,
      maxAttempts: options.maxAttempts ?? 5,
      backoffMs: options.backoffMs ?? 1000,
      timeoutMs: options.timeoutMs ?? 5000,
    };
    for (const w of options.webhooks ?? []) this.add(w);
  }

  /** Follows an alarm port's transitions. */
  attach(alarms: AlarmPort): void {
    this.#unsubscribe = alarms.onTransition((t) => this.notify(t));
  }

  /** Adds (or replaces by id) a webhook; returns it with defaults filled in. */
  add(input: WebhookInput): Webhook {
    const hook = webhookSchema.parse(input);
    this.#hooks.set(hook.id, hook);
    return hook;
  }

  /** Removes a webhook; returns it, or undefined when unknown. */
  remove(id: string): Webhook | undefined {
    const h = this.#hooks.get(id);
    this.#hooks.delete(id);
    return h;
  }

  /** The configured webhooks. */
  list(): Webhook[] {
    return [...this.#hooks.values()];
  }

  /** True when `hook` wants `t`. */
  static matches(hook: Webhook, t: AlarmTransition): boolean {
    if (!hook.events.includes(t.type)) return false;
    if (ALARM_PRIORITIES.indexOf(t.alarm.priority) < ALARM_PRIORITIES.indexOf(hook.minPriority)) return false;
    if (hook.areas.length === 0) return true;
    return hook.areas.some((a) => t.alarm.source === a || t.alarm.source.startsWith(`${a}/`));
  }

  /** Sends `t` to every matching webhook (in the background). */
  notify(t: AlarmTransition): void {
    if (this.#closed) return;
    for (const hook of this.#hooks.values()) {
      if (!WebhookNotifier.matches(hook, t)) continue;
      const p = this.#deliver(hook, t).finally(() => this.#inflight.delete(p));
      this.#inflight.add(p);
    }
  }

  /** Resolves when every delivery under way has finished (delivered or given up). */
  async idle(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }

  /** Stops following alarms and waits for deliveries under way. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#unsubscribe?.();
    await this.idle();
  }

  async #deliver(hook: Webhook, t: AlarmTransition): Promise<void> {
    const body = JSON.stringify({ type: `alarm.${t.type}`, ts: t.ts, alarm: t.alarm });
    let attempts = 0;
    let httpStatus: number | undefined;
    let error: string | undefined;
    while (attempts < this.#opts.maxAttempts) {
      attempts++;
      try {
        const res = await fetch(hook.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'gemba-webhook' },
          body,
          signal: AbortSignal.timeout(this.#opts.timeoutMs),
        });
        httpStatus = res.status;
        await res.arrayBuffer();
        if (res.ok) {
          error = undefined;
          break;
        }
        error = `HTTP ${res.status}`;
      } catch (err: unknown) {
        error = err instanceof Error ? err.message : String(err);
      }
      if (attempts < this.#opts.maxAttempts && !this.#closed) {
        await new Promise((r) => setTimeout(r, this.#opts.backoffMs * 2 ** (attempts - 1)));
      } else break;
    }
    const record: DeliveryRecord = {
      type: 'notification',
      webhook: hook.id,
      url: hook.url,
      transition: t.type,
      alarm: t.alarm.id,
      status: error === undefined ? 'delivered' : 'failed',
      attempts,
    };
    if (httpStatus !== undefined) record.httpStatus = httpStatus;
    if (error !== undefined) record.error = error;
    if (error !== undefined) {
      this.#opts.logger.warn({ webhook: hook.id, url: hook.url, attempts, error }, 'webhook delivery failed');
    }
    try {
      await this.#opts.historian.appendEvents([
        {
          id: `notify:${hook.id}:${t.alarm.id}:${t.type}:${t.ts}`,
          kind: 'alarm',
          source: t.alarm.source,
          ts: this.#opts.clock.now(),
          data: record as unknown as Record<string, unknown>,
        },
      ]);
    } catch (err: unknown) {
      this.#opts.logger.error({ err, webhook: hook.id }, 'could not journal a webhook delivery');
    }
  }
}
