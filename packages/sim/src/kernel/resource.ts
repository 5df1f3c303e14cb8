import type { Process, Simulation, Waitable } from './simulation.ts';

/**
 * A resource with `capacity` identical servers and a FIFO queue (a machine, an operator, a
 * crane). A process yields `resource.request()` to seize one server and calls `release()`
 * when done. Tracks the time-average queue length and utilisation.
 */
export class Resource {
  readonly sim: Simulation;
  readonly capacity: number;
  #busy = 0;
  #queue: Process[] = [];
  #head = 0;
  #lastT = 0;
  #busyArea = 0;
  #queueArea = 0;
  #statsFrom = 0;

  constructor(sim: Simulation, capacity = 1) {
    this.sim = sim;
    this.capacity = capacity;
  }

  /** Servers in use. */
  get busy(): number {
    return this.#busy;
  }

  /** Processes waiting. */
  get queueLength(): number {
    return this.#queue.length - this.#head;
  }

  /** A waitable that seizes one server. */
  request(): Waitable {
    return this.#request;
  }

  /** Frees one server and hands it to the first waiter, if any. */
  release(): void {
    this.#account();
    if (this.#head < this.#queue.length) {
      const next = this.#queue[this.#head++] as Process;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      // The server passes straight to the waiter; it resumes at the current time.
      this.sim.schedule(0, (_a, o) => (o as Process).resume(), 0, next);
    } else {
      this.#busy--;
    }
  }

  /** Time-average number of busy servers divided by capacity, since the last reset. */
  utilisation(): number {
    this.#account();
    const span = this.sim.now - this.#statsFrom;
    return span > 0 ? this.#busyArea / span / this.capacity : 0;
  }

  /** Time-average queue length since the last reset. */
  meanQueueLength(): number {
    this.#account();
    const span = this.sim.now - this.#statsFrom;
    return span > 0 ? this.#queueArea / span : 0;
  }

  /** Restarts the time averages (end of warm-up). */
  resetStats(): void {
    this.#account();
    this.#busyArea = 0;
    this.#queueArea = 0;
    this.#statsFrom = this.sim.now;
  }

  #account(): void {
    const dt = this.sim.now - this.#lastT;
    if (dt > 0) {
      this.#busyArea += dt * this.#busy;
      this.#queueArea += dt * (this.#queue.length - this.#head);
      this.#lastT = this.sim.now;
    }
  }

  readonly #request: Waitable = {
    wait: (proc: Process): boolean => {
      this.#account();
      if (this.#busy < this.capacity && this.#head === this.#queue.length) {
        this.#busy++;
        return true;
      }
      this.#queue.push(proc);
      return false;
    },
    abandon: (proc: Process): void => {
      this.#account();
      const i = this.#queue.indexOf(proc, this.#head);
      if (i >= 0) this.#queue.splice(i, 1);
    },
  };
}
