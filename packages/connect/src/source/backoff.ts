/** Options of {@link Backoff}. */
export interface BackoffOptions {
  /** First delay, ms (default 250). */
  initialMs?: number;
  /** Largest delay, ms (default 10 000). */
  maxMs?: number;
  /** Growth factor per attempt (default 2). */
  factor?: number;
}

/**
 * Exponential reconnect backoff with ±20 % jitter, so that many gateways restarting at once
 * don't dial a peer in lock-step. `next()` gives the delay before the next attempt, ms;
 * `reset()` after a success.
 */
export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #factor: number;
  #attempt = 0;

  constructor(options: BackoffOptions = {}) {
    this.#initialMs = options.initialMs ?? 250;
    this.#maxMs = options.maxMs ?? 10_000;
    this.#factor = options.factor ?? 2;
  }

  /** Attempts since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  /** The delay before the next attempt, ms. */
  next(): number {
    const base = Math.min(this.#maxMs, this.#initialMs * this.#factor ** this.#attempt);
    this.#attempt++;
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  /** Starts over at the initial delay. */
  reset(): void {
    this.#attempt = 0;
  }
}
