import type { SampleBatch, SampleValue } from './sample.ts';

/** A source's connection state. */
export type SourceState = 'connecting' | 'connected' | 'degraded' | 'disconnected' | 'stopped';

/**
 * What a source reports besides data: its connection state, and problems with what a peer
 * sent (a malformed payload, a NaN register, a sequence gap), each naming where it was.
 */
export interface SourceStatus {
  source: string;
  state: SourceState;
  /** Source clock, ms since epoch. */
  ts: number;
  /** Human-readable reason, naming the endpoint, topic, node or register. */
  reason?: string;
  /** Machine-readable problem kind, e.g. `malformed-payload`, `sequence-gap`, `nan-value`. */
  problem?: string;
  details?: Record<string, unknown>;
}

/** Listener for a source's batches. */
export type BatchListener = (batch: SampleBatch) => void;
/** Listener for a source's status events. */
export type StatusListener = (status: SourceStatus) => void;

/**
 * A driver instance: turns one peer's signals into sample batches. It owns reconnection with
 * backoff and never throws into the pipeline: a broken peer becomes `quality: 'bad'` samples
 * and a status event. Contract suite: `sourceContractSuite` in `@gemba/core/testing`.
 */
export interface Source {
  readonly id: string;
  /** Connects and starts delivering; resolves once started (not necessarily connected). */
  start(): Promise<void>;
  /** Stops and releases every resource; idempotent. */
  stop(): Promise<void>;
  /** Registers a batch listener; returns a function that removes it. */
  onBatch(listener: BatchListener): () => void;
  /** Registers a status listener; returns a function that removes it. */
  onStatus(listener: StatusListener): () => void;
  /** The current connection state. */
  readonly state: SourceState;
  /** Writes a value to a writable signal at the peer (a setpoint). */
  write(signal: string, value: SampleValue): Promise<void>;
}
