import type { Process, Simulation, Waitable } from './simulation.ts';

/**
 * A FIFO store of items with a finite capacity (a buffer between machines). `put` waits while
 * the store is full, `get` waits while it is empty. Tracks the time-average level.
 */
export class Store<T> {
  readonly sim: Simulation;
  readonly capacity: number;
  readonly #items: T[] = [];
  readonly #getters: Process[] = [];
  readonly #putters: { proc: Process; item: T }[] = [];
  #lastT = 0;
  #area = 0;
  #statsFrom = 0;

  constructor(sim: Simulation, capacity = Number.POSITIVE_INFINITY) {
    this.sim = sim;
    this.capacity = capacity;
  }

  /** Items in the store. */
  get level(): number {
    return this.#items.length;
  }

  /** A waitable that puts `item` (waits while full). */
  put(item: T): Waitable {
    return {
      wait: (proc) => {
        this.#account();
        if (this.#getters.length > 0) {
          this.#wake(this.#getters.shift() as Process, item);
          return true;
        }
        if (this.#items.length < this.capacity) {
          this.#items.push(item);
          return true;
        }
        this.#putters.push({ proc, item });
        return false;
      },
      abandon: (proc) => {
        const i = this.#putters.findIndex((p) => p.proc === proc);
        if (i >= 0) this.#putters.splice(i, 1);
      },
    };
  }

  /** A waitable that takes the oldest item (waits while empty); the item is the yield's value. */
  get(): Waitable {
    const w = {
      value: undefined as unknown,
      wait: (proc: Process): boolean => {
        this.#account();
        if (this.#items.length > 0) {
          w.value = this.#items.shift();
          const p = this.#putters.shift();
          if (p !== undefined) {
            this.#items.push(p.item);
            this.#wake(p.proc, undefined);
          }
          return true;
        }
        this.#getters.push(proc);
        return false;
      },
      abandon: (proc: Process): void => {
        const i = this.#getters.indexOf(proc);
        if (i >= 0) this.#getters.splice(i, 1);
      },
    };
    return w;
  }

  /** Time-average level since the last reset. */
  meanLevel(): number {
    this.#account();
    const span = this.sim.now - this.#statsFrom;
    return span > 0 ? this.#area / span : 0;
  }

  /** Restarts the time average (end of warm-up). */
  resetStats(): void {
    this.#account();
    this.#area = 0;
    this.#statsFrom = this.sim.now;
  }

  #wake(proc: Process, value: unknown): void {
    this.sim.schedule(0, (_a, o) => proc.resume(o), 0, value);
  }

  #account(): void {
    const dt = this.sim.now - this.#lastT;
    if (dt > 0) {
      this.#area += dt * this.#items.length;
      this.#lastT = this.sim.now;
    }
  }
}
