import type { AlarmKind, AlarmPriority, AlarmState, AlarmTransition, AlarmView } from './types.ts';

const PRIORITY_RANK: Readonly<Record<AlarmPriority, number>> = { low: 0, medium: 1, high: 2, urgent: 3 };

/** How an alarm is configured. */
export interface AlarmConfig {
  source: string;
  kind: AlarmKind;
  priority: AlarmPriority;
  /** Limit (limit alarms); a fault alarm is active while its input is non-zero. */
  limit?: number;
  deadband: number;
  onDelayMs: number;
  offDelayMs: number;
  message: string;
}

/**
 * One alarm with the ISA-18.2 life cycle (ANSI/ISA-18.2-2016 §11.1, Figure 7):
 * normal → active-unacked (raise) → active-acked (ack) → normal (clear);
 * active-unacked → cleared-unacked (clear) → normal (ack); cleared-unacked → active-unacked (raise).
 * On- and off-delays and a deadband keep it from chattering; shelving hides it for a while
 * without changing its state.
 */
export class Alarm {
  readonly id: string;
  readonly config: AlarmConfig;
  state: AlarmState = 'normal';
  /** The process condition (with deadband hysteresis), before delays. */
  condition = false;
  conditionSince = Number.NaN;
  shelvedBy: string | undefined;
  shelvedUntil: number | undefined;
  /** Last value (NaN: none). A double field, so that storing it per sample does not allocate. */
  value = Number.NaN;
  activeSince: number | undefined;
  changedAt = 0;
  ackedBy: string | undefined;
  ackedAt: number | undefined;

  constructor(config: AlarmConfig) {
    this.config = config;
    this.id = `${config.source}:${config.kind}`;
  }

  get active(): boolean {
    return this.state === 'active-unacked' || this.state === 'active-acked';
  }

  /** The process condition for a value, with hysteresis by the deadband. */
  conditionFor(v: number): boolean {
    const c = this.config;
    if (c.kind === 'fault') return v !== 0;
    const lim = c.limit as number;
    const high = c.kind === 'hi' || c.kind === 'hihi';
    if (this.condition) return high ? v > lim - c.deadband : v < lim + c.deadband;
    return high ? v >= lim : v <= lim;
  }

  /** Takes a value at source time `ts`; returns the transition, if any. */
  update(v: number, ts: number): AlarmTransition | undefined {
    this.value = v;
    const cond = this.conditionFor(v);
    if (cond !== this.condition) {
      this.condition = cond;
      this.conditionSince = ts;
    }
    return this.evaluate(ts);
  }

  /** Like {@link update} with `values[idx]` at `times[idx]` (no number boxed per call). */
  updateFrom(idx: number, times: Float64Array, values: Float64Array): AlarmTransition | undefined {
    const v = values[idx] as number;
    const ts = times[idx] as number;
    this.value = v;
    const cond = this.conditionFor(v);
    if (cond !== this.condition) {
      this.condition = cond;
      this.conditionSince = ts;
    }
    if (Number.isNaN(this.conditionSince)) return undefined;
    const held = ts - this.conditionSince;
    const c = this.config;
    if (this.condition ? !this.active && held >= c.onDelayMs : this.active && held >= c.offDelayMs) {
      return this.evaluate(ts);
    }
    return undefined;
  }

  /** Applies the delays at time `ts`; returns the transition, if any. */
  evaluate(ts: number): AlarmTransition | undefined {
    if (Number.isNaN(this.conditionSince) || ts < this.conditionSince) return undefined;
    const held = ts - this.conditionSince;
    if (this.condition && !this.active && held >= this.config.onDelayMs) {
      // Raise at the moment the delay expired, not when we noticed.
      return this.#move('active-unacked', 'raise', this.conditionSince + this.config.onDelayMs);
    }
    if (!this.condition && this.active && held >= this.config.offDelayMs) {
      const to: AlarmState = this.state === 'active-acked' ? 'normal' : 'cleared-unacked';
      return this.#move(to, 'clear', this.conditionSince + this.config.offDelayMs);
    }
    return undefined;
  }

  /** Acknowledges; returns the transition, or undefined when there was nothing to acknowledge. */
  acknowledge(user: string, ts: number): AlarmTransition | undefined {
    if (this.state === 'active-unacked') return this.#move('active-acked', 'ack', ts, user);
    if (this.state === 'cleared-unacked') return this.#move('normal', 'ack', ts, user);
    return undefined;
  }

  /** Shelves until `untilMs`. */
  shelve(user: string, ts: number, untilMs: number): AlarmTransition {
    this.shelvedBy = user;
    this.shelvedUntil = untilMs;
    return this.#note('shelve', ts, user);
  }

  /** Ends shelving. */
  unshelve(ts: number, user?: string): AlarmTransition | undefined {
    if (this.shelvedUntil === undefined) return undefined;
    this.shelvedBy = undefined;
    this.shelvedUntil = undefined;
    return this.#note('unshelve', ts, user);
  }

  #note(action: AlarmTransition['action'], ts: number, user?: string): AlarmTransition {
    const t: AlarmTransition = { alarm: this.id, from: this.state, to: this.state, action, ts };
    if (user !== undefined) t.user = user;
    if (!Number.isNaN(this.value)) t.value = this.value;
    return t;
  }

  #move(to: AlarmState, action: AlarmTransition['action'], ts: number, user?: string): AlarmTransition {
    const t = this.#note(action, ts, user);
    t.to = to;
    if (action === 'raise') {
      this.activeSince = ts;
      this.ackedBy = undefined;
      this.ackedAt = undefined;
    }
    if (action === 'ack') {
      this.ackedBy = user;
      this.ackedAt = ts;
    }
    if (to === 'normal') this.activeSince = undefined;
    this.state = to;
    this.changedAt = ts;
    return t;
  }

  /** The alarm's view. */
  view(): AlarmView {
    const c = this.config;
    const v: AlarmView = {
      id: this.id,
      source: c.source,
      kind: c.kind,
      priority: c.priority,
      state: this.state,
      shelved: this.shelvedUntil !== undefined,
      message: c.message,
      changedAt: this.changedAt,
    };
    if (this.shelvedBy !== undefined) v.shelvedBy = this.shelvedBy;
    if (this.shelvedUntil !== undefined) v.shelvedUntil = this.shelvedUntil;
    if (c.limit !== undefined) v.limit = c.limit;
    if (!Number.isNaN(this.value)) v.value = this.value;
    if (this.activeSince !== undefined) v.activeSince = this.activeSince;
    if (this.ackedBy !== undefined) v.ackedBy = this.ackedBy;
    if (this.ackedAt !== undefined) v.ackedAt = this.ackedAt;
    return v;
  }
}

/** Sort order of alarm views: priority (highest first), then most recent change. */
export function compareAlarms(a: AlarmView, b: AlarmView): number {
  return PRIORITY_RANK[b.priority] - PRIORITY_RANK[a.priority] || b.changedAt - a.changedAt;
}
