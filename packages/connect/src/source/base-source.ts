import {
  type BatchListener,
  type Clock,
  GembaError,
  type Logger,
  type SampleBatch,
  SampleBatchBuilder,
  type SampleValue,
  type Source,
  type SourceState,
  type SourceStatus,
  type StatusListener,
} from '@gemba/core';

/**
 * The shared plumbing of every driver: listeners, state, status events and "all my signals
 * are bad now". Listener errors are caught and logged so that a consumer can never break a
 * driver (drivers never throw into the pipeline, and the pipeline never throws into them).
 */
export abstract class BaseSource implements Source {
  readonly id: string;
  protected readonly clock: Clock;
  protected readonly log: Logger;
  #state: SourceState = 'stopped';
  readonly #batchListeners = new Set<BatchListener>();
  readonly #statusListeners = new Set<StatusListener>();

  constructor(id: string, clock: Clock, log: Logger) {
    this.id = id;
    this.clock = clock;
    this.log = log;
  }

  get state(): SourceState {
    return this.#state;
  }

  abstract start(): Promise<void>;
  abstract stop(): Promise<void>;
  abstract write(signal: string, value: SampleValue): Promise<void>;

  /** Every signal path this source feeds. */
  abstract get signals(): readonly string[];

  onBatch(listener: BatchListener): () => void {
    this.#batchListeners.add(listener);
    return () => this.#batchListeners.delete(listener);
  }

  onStatus(listener: StatusListener): () => void {
    this.#statusListeners.add(listener);
    return () => this.#statusListeners.delete(listener);
  }

  /** Delivers a batch to every listener (empty batches are not delivered). */
  protected emitBatch(batch: SampleBatch): void {
    if (batch.length === 0) return;
    for (const l of this.#batchListeners) {
      try {
        l(batch);
      } catch (err: unknown) {
        this.log.error({ err, source: this.id }, 'batch listener failed');
      }
    }
  }

  /**
   * Reports a status: a state change (`problem` absent) or a problem with what the peer sent
   * (`problem` set; the state may stay as it is).
   */
  protected emitStatus(
    state: SourceState,
    reason?: string,
    problem?: string,
    details?: Record<string, unknown>,
  ): void {
    const changed = state !== this.#state;
    this.#state = state;
    if (!changed && problem === undefined && reason === undefined) return;
    const status: SourceStatus = { source: this.id, state, ts: this.clock.now() };
    if (reason !== undefined) status.reason = reason;
    if (problem !== undefined) status.problem = problem;
    if (details !== undefined) status.details = details;
    for (const l of this.#statusListeners) {
      try {
        l(status);
      } catch (err: unknown) {
        this.log.error({ err, source: this.id }, 'status listener failed');
      }
    }
  }

  /** Emits one bad-quality sample (value NaN) for each of `paths` at the current time. */
  protected emitBad(paths: Iterable<string>): void {
    const now = this.clock.now();
    const b = new SampleBatchBuilder();
    for (const p of paths) b.pushNumber(p, now, Number.NaN, 'bad');
    this.emitBatch(b.build());
  }

  /**
   * The peer refused us (credentials, authorisation): every signal bad and one `disconnected`
   * status naming the peer and its reason; the driver keeps retrying as `retrying` says.
   */
  protected peerRefused(peer: string, reason: string, retrying: string): void {
    this.log.warn({ peer, reason }, 'peer refused the connection');
    this.emitBad(this.signals);
    this.emitStatus('disconnected', `${peer}: ${reason}; ${retrying}`);
  }

  /** The error for a write to a signal this source does not feed or cannot write. */
  protected notWritable(signal: string, why: string): GembaError {
    return new GembaError('GEMBA_CONNECT_WRITE', `source '${this.id}' cannot write '${signal}': ${why}`, {
      details: { source: this.id, signal },
    });
  }
}
