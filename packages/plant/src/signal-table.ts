import { GembaError, type SampleBatch, SampleBatchBuilder } from '@gemba/core';
import type { SignalWriter } from './physics.ts';

/**
 * A sensor fault applied between the physics and everything that reads a signal (the
 * protocols and the in-process tap), as a broken or misbehaving sensor would:
 * - `spike`: the sensor reads `value` for `durationS` (default 1 s);
 * - `freeze`: the sensor keeps its last reading for `durationS`;
 * - `drift`: the reading drifts away from the truth by `perHour` units per hour for `durationS`.
 */
export type SensorFault =
  | { kind: 'spike'; signal: string; value: number; durationS?: number }
  | { kind: 'freeze'; signal: string; durationS: number }
  | { kind: 'drift'; signal: string; perHour: number; durationS: number };

interface ActiveFault {
  fault: SensorFault;
  startMs: number;
  endMs: number;
  frozen?: number;
}

/** A signal's current served value and its source time. */
export interface SignalValue {
  value: number;
  ts: number;
}

/**
 * The current value of every served signal, keyed by model signal path. Records every
 * change (after sensor faults) into a pending {@link SampleBatch} that the plant hands to
 * the tap and the protocol adapters.
 */
export class SignalTable implements SignalWriter {
  readonly #values = new Map<string, SignalValue>();
  readonly #faults = new Map<string, ActiveFault>();
  #builder = new SampleBatchBuilder(512);

  /** @param paths the signal paths served; writes to other paths are ignored. */
  constructor(paths: Iterable<string>) {
    for (const p of paths) this.#values.set(p, { value: Number.NaN, ts: 0 });
  }

  /** True when `path` is a served signal. */
  has(path: string): boolean {
    return this.#values.has(path);
  }

  /** Every served signal path. */
  paths(): string[] {
    return [...this.#values.keys()];
  }

  set(path: string, value: number, ts: number): void {
    const cur = this.#values.get(path);
    if (cur === undefined) return;
    let out = value;
    const f = this.#faults.get(path);
    if (f !== undefined) {
      if (ts >= f.endMs) {
        this.#faults.delete(path);
      } else if (f.fault.kind === 'spike') {
        out = f.fault.value;
      } else if (f.fault.kind === 'freeze') {
        out = f.frozen ?? value;
      } else {
        out = value + (f.fault.perHour * (ts - f.startMs)) / 3_600_000;
        out = Math.round(out * 1000) / 1000;
      }
    }
    if (out === cur.value) return;
    cur.value = out;
    cur.ts = ts;
    this.#builder.pushNumber(path, ts, out, 'good');
  }

  /** The current served value of `path`, or undefined for an unknown path. */
  get(path: string): SignalValue | undefined {
    return this.#values.get(path);
  }

  /**
   * Starts a sensor fault at emulator time `nowMs`.
   * @throws GembaError GEMBA_INVALID_ARGUMENT when the signal is not served.
   */
  addFault(fault: SensorFault, nowMs: number): void {
    const cur = this.#values.get(fault.signal);
    if (cur === undefined) {
      throw new GembaError(
        'GEMBA_INVALID_ARGUMENT',
        `cannot inject ${fault.kind}: no served signal '${fault.signal}'`,
        {
          details: { signal: fault.signal },
        },
      );
    }
    const durationS = fault.durationS ?? 1;
    const active: ActiveFault = { fault, startMs: nowMs, endMs: nowMs + durationS * 1000 };
    if (fault.kind === 'freeze') active.frozen = cur.value;
    this.#faults.set(fault.signal, active);
    if (fault.kind === 'spike') {
      cur.value = fault.value;
      cur.ts = nowMs;
      this.#builder.pushNumber(fault.signal, nowMs, fault.value, 'good');
    }
  }

  /** The changes recorded since the last call, or undefined when there were none. */
  flush(): SampleBatch | undefined {
    if (this.#builder.length === 0) return undefined;
    return this.#builder.build();
  }
}
