import { GembaError } from '@gemba/core';
import { EventCalendar, type EventHandle, type EventHandler } from './event-calendar.ts';

/**
 * Something a process can wait on (`yield` it): a resource request, a store get or put,
 * another process. `wait` returns true when it is satisfied at once (the process continues
 * without an event); otherwise the waitable later calls `proc.resume(value)`.
 */
export interface Waitable {
  /** Starts waiting; true when already satisfied (then `value` holds the result). */
  wait(proc: Process): boolean;
  /** Stops waiting (the process was interrupted). */
  abandon(proc: Process): void;
  /** The result of an immediate satisfaction. */
  readonly value?: unknown;
}

/** What a process generator yields: a delay in simulated seconds, or a {@link Waitable}. */
export type Yieldable = number | Waitable;

/** A process body: a generator that yields delays and waitables. */
export type ProcessBody = Generator<Yieldable, void, unknown>;

/** Thrown into a process by {@link Process.interrupt}; `cause` is what the interrupter passed. */
export class Interrupt extends Error {
  override readonly cause: unknown;
  constructor(cause: unknown) {
    super('process interrupted');
    this.name = 'Interrupt';
    this.cause = cause;
  }
}

const NO_HANDLE = -1;

/**
 * A simulated process (SimPy-style): a generator driven by the simulation. Yield a number to
 * hold for that many simulated seconds; yield a waitable to wait for it. Another process can
 * {@link interrupt} it (a breakdown preempting work): the pending wait is abandoned and an
 * {@link Interrupt} is thrown at the `yield`.
 */
export class Process implements Waitable {
  readonly sim: Simulation;
  readonly name: string;
  #body: ProcessBody;
  #timer: EventHandle = NO_HANDLE;
  #waitingOn: Waitable | undefined;
  #done = false;
  #joiners: Process[] = [];
  /** Simulated time the current hold ends (NaN when not holding). */
  holdUntil = Number.NaN;

  constructor(sim: Simulation, body: ProcessBody, name: string) {
    this.sim = sim;
    this.#body = body;
    this.name = name;
  }

  /** True once the generator has returned. */
  get done(): boolean {
    return this.#done;
  }

  /** True while waiting on a hold or a waitable. */
  get waiting(): boolean {
    return this.#timer !== NO_HANDLE || this.#waitingOn !== undefined;
  }

  /** Continues the generator with `value` (called by waitables and the calendar). */
  resume(value?: unknown): void {
    this.#timer = NO_HANDLE;
    this.#waitingOn = undefined;
    this.holdUntil = Number.NaN;
    this.#drive(value, undefined);
  }

  /**
   * Interrupts the process at its current `yield` (an {@link Interrupt} carrying `cause` is
   * thrown there, at the current simulated time). No-op on a finished process.
   */
  interrupt(cause?: unknown): void {
    if (this.#done) return;
    if (this.#timer !== NO_HANDLE) this.sim.cancel(this.#timer);
    this.#timer = NO_HANDLE;
    this.holdUntil = Number.NaN;
    this.#waitingOn?.abandon(this);
    this.#waitingOn = undefined;
    this.sim.schedule(0, throwInto, 0, { proc: this, error: new Interrupt(cause) });
  }

  /** @internal */
  throwError(error: unknown): void {
    if (this.#done) return;
    this.#drive(undefined, error);
  }

  wait(proc: Process): boolean {
    if (this.#done) return true;
    this.#joiners.push(proc);
    return false;
  }

  abandon(proc: Process): void {
    const i = this.#joiners.indexOf(proc);
    if (i >= 0) this.#joiners.splice(i, 1);
  }

  #drive(value: unknown, error: unknown): void {
    let send = value;
    let err = error;
    for (;;) {
      const r = err === undefined ? this.#body.next(send) : this.#body.throw(err);
      err = undefined;
      if (r.done === true) {
        this.#done = true;
        for (const j of this.#joiners) this.sim.schedule(0, resumeProcess, 0, j);
        this.#joiners = [];
        return;
      }
      const y = r.value;
      if (typeof y === 'number') {
        if (!(y >= 0)) {
          throw new GembaError(
            'GEMBA_INVALID_ARGUMENT',
            `process '${this.name}' yielded an invalid delay ${y}`,
          );
        }
        this.holdUntil = this.sim.now + y;
        this.#timer = this.sim.schedule(y, resumeProcess, 0, this);
        return;
      }
      if (y.wait(this)) {
        send = y.value;
        continue;
      }
      this.#waitingOn = y;
      return;
    }
  }
}

const resumeProcess: EventHandler = (_arg, obj) => (obj as Process).resume();
const throwInto: EventHandler = (_arg, obj) => {
  const o = obj as { proc: Process; error: unknown };
  o.proc.throwError(o.error);
};

/**
 * A discrete-event simulation: a clock in simulated seconds (independent of wall time) and an
 * event calendar. Events are plain callbacks (`schedule`), the fast path models use; processes
 * (`process`) are generators on top, for models written SimPy-style.
 *
 * @example
 * const sim = new Simulation();
 * sim.process(function* () { yield 5; log(sim.now); }());
 * sim.run(); // logs 5
 */
export class Simulation {
  /** Current simulated time, seconds. Never moves backwards. */
  now = 0;
  /** Events fired so far. */
  eventsFired = 0;
  readonly calendar: EventCalendar;
  /** Set by `stop()`; `run` returns after the current event. */
  stopped = false;

  constructor(initialCapacity = 1024) {
    this.calendar = new EventCalendar(initialCapacity);
  }

  /**
   * Schedules `handler(arg, obj)` after `delay` simulated seconds (≥ 0).
   * @throws GembaError GEMBA_INVALID_ARGUMENT on a negative or NaN delay
   */
  schedule(delay: number, handler: EventHandler, arg = 0, obj?: unknown): EventHandle {
    if (!(delay >= 0)) {
      throw new GembaError(
        'GEMBA_INVALID_ARGUMENT',
        `cannot schedule an event after ${delay} s (t=${this.now})`,
      );
    }
    return this.calendar.push(this.now + delay, handler, arg, obj);
  }

  /** Schedules at an absolute simulated time (clamped to now). */
  scheduleAt(time: number, handler: EventHandler, arg = 0, obj?: unknown): EventHandle {
    return this.calendar.push(Math.max(time, this.now), handler, arg, obj);
  }

  /** Cancels a pending event; false when it already fired or was cancelled. */
  cancel(handle: EventHandle): boolean {
    return this.calendar.cancel(handle);
  }

  /** Starts a process now; returns it (a process can be waited on by yielding it). */
  process(body: ProcessBody, name = 'process'): Process {
    const p = new Process(this, body, name);
    this.schedule(0, resumeProcess, 0, p);
    return p;
  }

  /** Stops `run` after the current event. */
  stop(): void {
    this.stopped = true;
  }

  /**
   * Fires events in time order until the calendar is empty, `until` (simulated seconds) is
   * reached (the clock then stands at `until`), `maxEvents` fired, or `stop()` was called.
   */
  run(until = Number.POSITIVE_INFINITY, maxEvents = Number.POSITIVE_INFINITY): void {
    this.stopped = false;
    this.eventsFired += this.calendar.dispatch(until, maxEvents, this);
    if (
      !this.stopped &&
      until !== Number.POSITIVE_INFINITY &&
      until > this.now &&
      this.calendar.peekTime() > until
    ) {
      this.now = until;
    }
  }
}
