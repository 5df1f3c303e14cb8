import { GembaError } from './errors.ts';

/** A handle returned by {@link Clock.setTimeout}. */
export interface TimerHandle {
  readonly id: number;
}

/**
 * Where every part of Gemba takes time from, so that the plant emulator, tests and
 * simulations can run faster than real time. Times are milliseconds since the Unix epoch.
 */
export interface Clock {
  /** The current time, ms since epoch. */
  now(): number;
  /** Calls `fn` once `delayMs` of this clock's time has passed. */
  setTimeout(fn: () => void, delayMs: number): TimerHandle;
  /** Cancels a timer; unknown or fired handles are ignored. */
  clearTimeout(handle: TimerHandle): void;
  /** Resolves once `delayMs` of this clock's time has passed. */
  sleep(delayMs: number): Promise<void>;
}

/** The wall clock. */
export class RealClock implements Clock {
  readonly #timers = new Map<number, NodeJS.Timeout>();
  #nextId = 1;

  now(): number {
    return Date.now();
  }

  setTimeout(fn: () => void, delayMs: number): TimerHandle {
    const id = this.#nextId++;
    const t = setTimeout(
      () => {
        this.#timers.delete(id);
        fn();
      },
      Math.max(0, delayMs),
    );
    this.#timers.set(id, t);
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    const t = this.#timers.get(handle.id);
    if (t !== undefined) {
      clearTimeout(t);
      this.#timers.delete(handle.id);
    }
  }

  sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => this.setTimeout(resolve, delayMs));
  }
}

interface PendingTimer {
  id: number;
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * A clock that moves only when told to. Timers fire in time order (ties in the order they
 * were set) while {@link ManualClock.advance} passes their due time.
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  #nextId = 1;
  readonly #timers = new Map<number, PendingTimer>();

  /** @param startMs the initial time, ms since epoch (default 2026-01-05T06:00:00Z). */
  constructor(startMs = Date.UTC(2026, 0, 5, 6, 0, 0)) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, delayMs: number): TimerHandle {
    const id = this.#nextId++;
    this.#timers.set(id, { id, at: this.#now + Math.max(0, delayMs), seq: this.#seq++, fn });
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle.id);
  }

  sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => this.setTimeout(resolve, delayMs));
  }

  /** Number of timers not yet fired. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /**
   * Moves time forward by `ms`, firing every timer due on the way at its own due time.
   * @throws GembaError GEMBA_CLOCK_BACKWARDS when `ms` is negative.
   */
  advance(ms: number): void {
    if (!(ms >= 0))
      throw new GembaError('GEMBA_CLOCK_BACKWARDS', `ManualClock.advance(${ms}): time cannot go back`);
    const target = this.#now + ms;
    for (;;) {
      let next: PendingTimer | undefined;
      for (const t of this.#timers.values()) {
        if (
          t.at <= target &&
          (next === undefined || t.at < next.at || (t.at === next.at && t.seq < next.seq))
        ) {
          next = t;
        }
      }
      if (next === undefined) break;
      this.#timers.delete(next.id);
      this.#now = next.at;
      next.fn();
    }
    this.#now = target;
  }

  /** Sets the time to `ms` (not earlier than now), firing due timers. */
  set(ms: number): void {
    this.advance(ms - this.#now);
  }
}

/**
 * Real time sped up by `speed` (60 = one hour per minute), starting at `startMs`.
 * Timers are scheduled on the wall clock at `delay / speed`.
 */
export class AcceleratedClock implements Clock {
  readonly speed: number;
  readonly #startMs: number;
  readonly #wallStart: number;
  readonly #real = new RealClock();
  readonly #timers = new Map<number, TimerHandle>();
  #nextId = 1;

  constructor(speed: number, startMs: number = Date.now()) {
    if (!(speed > 0) || !Number.isFinite(speed)) {
      throw new GembaError('GEMBA_INVALID_ARGUMENT', `clock speed must be a positive number, got ${speed}`);
    }
    this.speed = speed;
    this.#startMs = startMs;
    this.#wallStart = performance.now();
  }

  now(): number {
    return this.#startMs + (performance.now() - this.#wallStart) * this.speed;
  }

  setTimeout(fn: () => void, delayMs: number): TimerHandle {
    const due = this.now() + delayMs;
    const handle = { id: this.#nextId++ };
    // Wall timers may fire a little early; wait out the rest so callers never see now() < due.
    const arm = (): void => {
      const left = due - this.now();
      if (left <= 0) {
        this.#timers.delete(handle.id);
        fn();
        return;
      }
      this.#timers.set(handle.id, this.#real.setTimeout(arm, Math.max(left / this.speed, 0.5)));
    };
    this.#timers.set(handle.id, this.#real.setTimeout(arm, Math.max(0, delayMs / this.speed)));
    return handle;
  }

  clearTimeout(handle: TimerHandle): void {
    const inner = this.#timers.get(handle.id);
    if (inner !== undefined) {
      this.#real.clearTimeout(inner);
      this.#timers.delete(handle.id);
    }
  }

  sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => this.setTimeout(resolve, delayMs));
  }
}
