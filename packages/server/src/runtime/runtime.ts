import type {
  Clock,
  Historian,
  MachineState,
  Model,
  OrderDef,
  Quality,
  SampleValue,
  SourceStatus,
} from '@gemba/core';

// The API is handed the running platform through this interface (STYLE.md: the API is
// handed the runtime rather than importing it). Each port is small enough that the engine,
// historian, sim and connect parts can be adapted into it with a thin adapter.

/** The latest value of one signal in the live twin. */
export interface TwinValue {
  kind: 'value';
  /** Signal path. */
  path: string;
  /** The value; null when the signal has never reported. */
  value: SampleValue | null;
  quality: Quality;
  /** Source time of the value, ms since epoch. */
  ts: number;
}

/** The derived machine state of one station. */
export interface TwinState {
  kind: 'state';
  /** Station path. */
  path: string;
  state: MachineState;
  /** When the station entered this state, ms since epoch. */
  sinceMs: number;
  reason?: string;
  faultCode?: number;
}

/** Key performance indicators of a station or line over a window (ISO 22400-2). */
export interface Kpi {
  /** Station or line path. */
  path: string;
  fromMs: number;
  toMs: number;
  /** Availability, 0..1 (run time / planned production time). */
  availability: number;
  /** Performance, 0..1 (ideal cycle time × total parts / run time). */
  performance: number;
  /** Quality rate, 0..1 (good parts / total parts). */
  quality: number;
  /** OEE = availability × performance × quality, 0..1. */
  oee: number;
  totalCount: number;
  goodCount: number;
  scrapCount: number;
  /** Good parts per hour over the window. */
  throughputPerHour: number;
  /** Target parts per hour from the product's ideal cycle time, if known. */
  targetPerHour?: number;
}

/** The live KPIs of a station or line. */
export interface TwinKpi {
  kind: 'kpi';
  path: string;
  kpi: Kpi;
}

/** The current bottleneck of a line. */
export interface TwinBottleneck {
  kind: 'bottleneck';
  /** Line path. */
  path: string;
  /** Station path of the bottleneck, or null when none is known yet. */
  station: string | null;
  /** Since when this station has been the bottleneck, ms since epoch. */
  sinceMs: number;
}

/** ISA-18.2 alarm priorities. */
export type AlarmPriority = 'low' | 'medium' | 'high' | 'urgent';

/** Alarm priorities from least to most urgent. */
export const ALARM_PRIORITIES: readonly AlarmPriority[] = ['low', 'medium', 'high', 'urgent'];

/** One alarm (ISA-18.2: active/returned to normal × acknowledged/unacknowledged, shelved). */
export interface Alarm {
  id: string;
  /** Signal or asset path the alarm is about. */
  source: string;
  /** The area path it belongs to (for notification filters), if known. */
  area?: string;
  priority: AlarmPriority;
  /** What happened, e.g. `zone2 temperature high (192.3 °C > 190 °C)`. */
  message: string;
  /** True while the condition holds. */
  active: boolean;
  acknowledged: boolean;
  raisedAt: number;
  clearedAt?: number;
  ackedAt?: number;
  ackedBy?: string;
  /** While set and in the future, the alarm is shelved (hidden from the active list). */
  shelvedUntil?: number;
  shelvedBy?: string;
}

/** An alarm as it changes in the live twin. */
export interface TwinAlarm {
  kind: 'alarm';
  /** The alarm's source path. */
  path: string;
  alarm: Alarm;
}

/** Everything the live twin can report: values, states, KPIs, bottlenecks and alarms. */
export type TwinEntry = TwinValue | TwinState | TwinKpi | TwinBottleneck | TwinAlarm;

/** The key an entry is conflated under: a later entry with the same key replaces an earlier one. */
export function entryKey(e: TwinEntry): string {
  return e.kind === 'alarm' ? `alarm:${e.alarm.id}` : `${e.kind}:${e.path}`;
}

/**
 * The live twin: the current state of every asset, and a change feed.
 * Implementations: the engine's twin (through an adapter), or {@link BusTwin}.
 */
export interface TwinPort {
  /** Every current entry whose path matches the MQTT-style pattern (`+`, `#`). */
  snapshot(pattern: string): TwinEntry[];
  /**
   * Calls `listener` with every change, in order, synchronously after it happens.
   * Returns a function that stops the subscription.
   */
  subscribe(listener: (changes: readonly TwinEntry[]) => void): () => void;
}

/** A KPI query: a station or line path, and a window or a shift. */
export interface KpiQuery {
  path: string;
  fromMs: number;
  toMs: number;
}

/** KPIs per station / line / shift. */
export interface KpiPort {
  /**
   * KPIs of the station or line at `path` over [fromMs, toMs).
   * @throws GembaError GEMBA_MODEL_UNKNOWN_ASSET
   */
  kpis(query: KpiQuery): Promise<Kpi>;
}

/** Who did something through the API. */
export interface Actor {
  /** Token name, e.g. `demo-admin`. */
  name: string;
  role: Role;
}

/** Roles, least to most privileged. */
export type Role = 'viewer' | 'operator' | 'engineer' | 'admin';

/** An alarm transition, as notified to webhooks and written to the journal. */
export interface AlarmTransition {
  type: 'raise' | 'ack' | 'clear' | 'shelve';
  ts: number;
  alarm: Alarm;
}

/** Alarms: list, acknowledge, shelve, and a feed of transitions. */
export interface AlarmPort {
  /** Current alarms: active ones, and cleared ones not yet acknowledged. */
  list(): Alarm[];
  /**
   * Acknowledges an alarm.
   * @throws GembaError GEMBA_API_NOT_FOUND, GEMBA_API_CONFLICT when already acknowledged.
   */
  acknowledge(id: string, by: Actor, comment?: string): Alarm;
  /**
   * Shelves an alarm until `untilMs`.
   * @throws GembaError GEMBA_API_NOT_FOUND
   */
  shelve(id: string, by: Actor, untilMs: number, reason: string): Alarm;
  /** Calls `listener` on every transition. Returns an unsubscribe function. */
  onTransition(listener: (t: AlarmTransition) => void): () => void;
}

/** One change to apply in a what-if scenario. */
export interface WhatIfChange {
  /** Station (or buffer) path the change applies to. */
  target: string;
  /**
   * - `cycleTimeFactor`: multiply the station's cycle time (0.9 = 10 % faster).
   * - `bufferCapacity`: set a buffer's capacity, parts.
   * - `mtbfFactor` / `mttrFactor`: scale failure / repair times.
   * - `setpoint`: set a setpoint signal (target is the signal path) to `value` in its unit.
   */
  parameter: 'cycleTimeFactor' | 'bufferCapacity' | 'mtbfFactor' | 'mttrFactor' | 'setpoint';
  value: number;
}

/** A what-if request: scenarios compared against the calibrated baseline. */
export interface WhatIfRequest {
  /** The line to simulate. */
  line: string;
  scenarios: { name: string; changes: WhatIfChange[] }[];
  /** Simulated hours per replication. */
  horizonH: number;
  replications: number;
}

/** A mean with its confidence interval. */
export interface Estimate {
  mean: number;
  /** Lower and upper bound of the 95 % confidence interval. */
  lo: number;
  hi: number;
}

/** The predicted outcome of one scenario. */
export interface ScenarioResult {
  name: string;
  /** Good parts per hour. */
  throughputPerHour: Estimate;
  /** Scrap rate, 0..1. */
  scrapRate?: Estimate;
  /** The station most often the bottleneck, and the share of time it was. */
  bottleneck: { station: string; share: number };
  /** Scenario − baseline throughput per replication (common random numbers), paired 95 % CI. */
  throughputDiffPerHour?: Estimate;
  /** What the model cannot answer about this scenario (e.g. scrap without a calibrated scrap curve). */
  warnings?: string[];
}

/** The result of a what-if job. */
export interface WhatIfResult {
  baseline: ScenarioResult;
  scenarios: ScenarioResult[];
  /** How well the calibrated model reproduces recent history. */
  calibration?: { fromMs: number; toMs: number; throughputErrorPct: number; note?: string };
}

/** A simulation job as the API reports it. */
export interface SimJob {
  id: string;
  status: 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
  /** 0..1 */
  progress: number;
  createdAt: number;
  createdBy: string;
  request: WhatIfRequest;
  result?: WhatIfResult;
  error?: string;
}

/** Simulation jobs (start, progress, result, cancel). */
export interface SimPort {
  start(request: WhatIfRequest, by: Actor): SimJob;
  get(id: string): SimJob | undefined;
  list(): SimJob[];
  /** Cancels a queued or running job; returns it, or undefined if unknown. */
  cancel(id: string): SimJob | undefined;
}

/** Writes setpoints to equipment (through the source that binds the signal). */
export interface SetpointWriter {
  /**
   * Writes `value` to the writable signal at `path`; resolves once the equipment accepted it.
   * @throws GembaError when the write fails (the code says why).
   */
  write(path: string, value: number | boolean): Promise<void>;
}

/** A production order as the platform knows it. */
export interface ProductionOrder extends OrderDef {
  status: 'planned' | 'running' | 'done' | 'cancelled';
}

/** Production orders and the schedule. */
export interface OrderPort {
  list(): ProductionOrder[];
  /** Inserts or replaces orders by id. Returns the previous versions (undefined when new). */
  upsert(orders: readonly ProductionOrder[]): (ProductionOrder | undefined)[];
  /** The running order of a line, if any. */
  current(line: string): ProductionOrder | undefined;
}

/** Figures for `/metrics`. */
export interface RuntimeStatus {
  samplesIn: number;
  samplesOut: number;
  /** Bus messages taken in but not yet processed (by the engine or the historian writer). */
  lag: number;
  /** Batches waiting in store-and-forward buffers (on disk) for the bus. */
  bufferDepth: number;
  sources: SourceStatus[];
}

/**
 * The running platform as the API sees it. `model`, `clock`, `twin` and `historian` are
 * always there; the other ports are optional, and their routes answer 501
 * GEMBA_API_NOT_AVAILABLE when a port is missing.
 */
export interface GembaRuntime {
  readonly model: Model;
  readonly clock: Clock;
  readonly twin: TwinPort;
  readonly historian: Historian;
  readonly kpis?: KpiPort;
  readonly alarms?: AlarmPort;
  readonly sim?: SimPort;
  readonly writer?: SetpointWriter;
  readonly orders?: OrderPort;
  /** Pipeline figures for `/metrics`. */
  readonly status?: () => RuntimeStatus;
}
