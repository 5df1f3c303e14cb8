import {
  type Bus,
  type Clock,
  type Logger,
  type MachineState,
  type Model,
  matchPath,
  PACKML_CODE,
  type SampleBatch,
  type Subscription,
} from '@gemba/core';
import type { TwinEntry, TwinPort, TwinState, TwinValue } from './runtime.ts';

/**
 * The machine state of a station from its PackML state code and reason code (the demo line's
 * `state` and `state_reason` signals), ISO 22400-2 time model.
 */
export function packmlToMachineState(code: number, reasonCode: number, faultCode: number): MachineState {
  if (code === PACKML_CODE.Aborted || code === PACKML_CODE.Aborting || faultCode > 0) return 'down';
  if (code === PACKML_CODE.Execute) return 'running';
  if (reasonCode === 4) return 'maintenance';
  if (code === PACKML_CODE.Held || code === PACKML_CODE.Holding) return 'micro-stop';
  if (code === PACKML_CODE.Suspended || code === PACKML_CODE.Suspending) {
    if (reasonCode === 1) return 'starved';
    if (reasonCode === 2) return 'blocked';
    return 'idle';
  }
  if (code === PACKML_CODE.Stopped || code === PACKML_CODE.Stopping) return 'stopped';
  if (code === PACKML_CODE.Undefined) return 'offline';
  return 'idle';
}

/** Options of {@link BusTwin}. */
export interface BusTwinOptions {
  model: Model;
  bus: Bus;
  clock: Clock;
  logger: Logger;
  /** Durable consumer name on the bus. Default `server-twin`. */
  durable?: string;
}

/**
 * A minimal live twin fed straight from the bus: the last value of every signal and each
 * station's machine state from its PackML state signal. It lets the API run without the
 * engine (e.g. `gemba api` in front of a gateway); the engine's twin, adapted into
 * {@link TwinPort}, replaces it when the engine runs.
 */
export class BusTwin implements TwinPort {
  readonly #opts: BusTwinOptions;
  readonly #values = new Map<string, TwinValue>();
  readonly #states = new Map<string, TwinState>();
  readonly #listeners = new Set<(changes: readonly TwinEntry[]) => void>();
  #sub: Subscription | undefined;

  constructor(options: BusTwinOptions) {
    this.#opts = options;
    for (const s of options.model.signals) {
      this.#values.set(s.path, { kind: 'value', path: s.path, value: null, quality: 'bad', ts: 0 });
    }
    for (const line of options.model.lines) {
      for (const st of line.stations) {
        this.#states.set(st.path, { kind: 'state', path: st.path, state: 'offline', sinceMs: 0 });
      }
    }
  }

  /** Starts consuming new samples from the bus. */
  async start(): Promise<void> {
    this.#sub = await this.#opts.bus.consume(
      {
        durable: this.#opts.durable ?? 'server-twin',
        filter: 'gemba.samples.>',
        deliverFrom: { kind: 'new' },
      },
      (msg) => {
        this.ingest(msg.batch);
        msg.ack();
      },
    );
  }

  /** Stops consuming. */
  async stop(): Promise<void> {
    await this.#sub?.stop();
    this.#sub = undefined;
  }

  /** Applies a batch (what the bus consumer does); public for composition without a bus. */
  ingest(batch: SampleBatch): void {
    const changes: TwinEntry[] = [];
    const touched = new Set<string>();
    const model = this.#opts.model;
    for (let i = 0; i < batch.length; i++) {
      const path = batch.signals[i] as string;
      const info = model.signal(path);
      if (info === undefined) continue;
      const prev = this.#values.get(path);
      const ts = batch.ts[i] as number;
      if (prev !== undefined && prev.ts > ts) continue;
      const v: TwinValue = { kind: 'value', path, value: batch.valueAt(i), quality: batch.qualityAt(i), ts };
      this.#values.set(path, v);
      changes.push(v);
      const role = info.def.role;
      if (
        info.station !== undefined &&
        (role === 'state' || role === 'state_reason' || role === 'fault_code')
      ) {
        touched.add(info.station);
      }
    }
    for (const station of touched) {
      const s = this.#deriveState(station);
      if (s !== undefined) changes.push(s);
    }
    if (changes.length === 0) return;
    for (const l of this.#listeners) l(changes);
  }

  #num(
    station: string,
    role: 'state' | 'state_reason' | 'fault_code',
  ): { v: number; ts: number; bad: boolean } {
    const sig = this.#opts.model.signalByRole(station, role);
    const val = sig === undefined ? undefined : this.#values.get(sig.path);
    if (val === undefined || typeof val.value !== 'number') return { v: 0, ts: 0, bad: true };
    return { v: val.value, ts: val.ts, bad: val.quality === 'bad' };
  }

  #deriveState(station: string): TwinState | undefined {
    const code = this.#num(station, 'state');
    const reason = this.#num(station, 'state_reason');
    const fault = this.#num(station, 'fault_code');
    const state: MachineState = code.bad ? 'offline' : packmlToMachineState(code.v, reason.v, fault.v);
    const prev = this.#states.get(station);
    if (prev !== undefined && prev.state === state) return undefined;
    const next: TwinState = {
      kind: 'state',
      path: station,
      state,
      sinceMs: Math.max(code.ts, reason.ts, fault.ts),
    };
    if (state === 'down' && fault.v > 0) {
      next.faultCode = fault.v;
      next.reason = `fault ${fault.v}`;
    } else if (state === 'starved' || state === 'blocked' || state === 'maintenance') {
      next.reason = state;
    }
    this.#states.set(station, next);
    return next;
  }

  snapshot(pattern: string): TwinEntry[] {
    const out: TwinEntry[] = [];
    for (const v of this.#values.values()) if (matchPath(pattern, v.path)) out.push(v);
    for (const s of this.#states.values()) if (matchPath(pattern, s.path)) out.push(s);
    return out;
  }

  subscribe(listener: (changes: readonly TwinEntry[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
