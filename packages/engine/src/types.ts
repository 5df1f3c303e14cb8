import type {
  AssetKind,
  MachineState,
  Quality,
  SampleValue,
  SignalDef,
  SignalRole,
  StateEventData,
} from '@gemba/core';

/**
 * A signal's place in the plant, as the engine enriches every sample with it (from the model;
 * the current product and production order from the model's orders at the time of the sample).
 */
export interface SignalContext {
  /** The signal's namespace path. */
  path: string;
  /** The asset the signal sits on. */
  asset: string;
  /** The equipment type id of that asset, if any. */
  assetType?: string;
  role: SignalRole;
  dataType: SignalDef['dataType'];
  unit?: string;
  /** Normal operating range. */
  normal?: { min?: number | undefined; max?: number | undefined };
  /** Engineering range. */
  range?: { min?: number | undefined; max?: number | undefined };
  limits?: SignalDef['limits'];
  /** Expected update period, ms. */
  periodMs?: number;
  line?: string;
  station?: string;
  /** 0-based place of the station in its line's flow order. */
  stationOrder?: number;
  /** The buffer feeding the station, if any. */
  upstreamBuffer?: string;
  /** The buffer the station feeds, if any. */
  downstreamBuffer?: string;
  /** The source (binding) feeding the signal, if any. */
  source?: string;
}

/** The production order and product running on a line at a time. */
export interface ProductionContext {
  order?: string;
  product?: string;
  /** Ideal cycle time of the product at each station id, seconds per part. */
  idealCycleTimeS?: Readonly<Record<string, number>>;
}

/** The live twin's view of one signal. */
export interface SignalView {
  path: string;
  /** Last value; `null` when none has arrived yet. */
  value: SampleValue | null;
  quality: Quality;
  /** Source time of the last value, ms since epoch; `null` when none has arrived yet. */
  ts: number | null;
  /** Engine clock time the last value was taken in, ms since epoch; `null` when none. */
  receivedAt: number | null;
  /** `now - ts` at the time of the view, ms; `null` when no value. */
  ageMs: number | null;
  /** True when older than the stale factor times the signal's `periodMs` (or no value yet). */
  stale: boolean;
  /** True/false when the signal has a normal range and a numeric value; `null` otherwise. */
  inNormalRange: boolean | null;
  context: SignalContext;
}

/** Time per machine state over a window, ms. */
export type StateDurations = Record<MachineState, number>;

/** Throughput over trailing windows, parts per hour (from the station's part counter). */
export interface Throughput {
  partsPerHour1m: number;
  partsPerHour15m: number;
  partsPerHour60m: number;
  /** Over the current shift's elapsed planned time (0 outside any shift). */
  partsPerHourShift: number;
}

/** One reason's share of downtime (Pareto: sorted by duration, longest first). */
export interface DowntimeReason {
  /** The state (`down`, `micro-stop`, ...) and reason, e.g. `down:fault 12`. */
  reason: string;
  state: MachineState;
  durationMs: number;
  count: number;
}

/**
 * ISO 22400-2 OEE of a work unit over a window. Times in ms, counts in parts.
 * - `plannedBusyTimeMs` PBT = planned operation time (shift time minus breaks) − planned down time.
 * - `actualProductionTimeMs` APT = time in `running` (+ `micro-stop`, a performance loss).
 * - availability = APT / PBT; effectiveness = (ideal cycle time × produced quantity) / APT;
 *   quality rate = good quantity / produced quantity; OEE = product of the three.
 * Ratios are in [0, 1] (effectiveness may exceed 1 when the ideal cycle time is too slow);
 * `NaN` when their denominator is 0.
 */
export interface Oee {
  fromMs: number;
  toMs: number;
  plannedBusyTimeMs: number;
  actualProductionTimeMs: number;
  plannedDownTimeMs: number;
  unplannedDownTimeMs: number;
  producedQuantity: number;
  goodQuantity: number;
  scrapQuantity: number;
  idealCycleTimeS: number;
  availability: number;
  effectiveness: number;
  qualityRate: number;
  oee: number;
}

/** KPIs of one station. */
export interface StationKpis {
  station: string;
  throughput: Throughput;
  /** Mean actual cycle time over the last 15 min of running, s per part; NaN without parts. */
  cycleTimeS: number;
  /** Ideal cycle time of the current product, s per part; NaN when unknown. */
  idealCycleTimeS: number;
  /** OEE over the current shift (or the last 8 h when the model has no shifts). */
  oee: Oee;
  stateDurationsMs: StateDurations;
  downtimePareto: DowntimeReason[];
  /** Mean time between failures (`down` starts) over the window, ms; NaN without failures. */
  mtbfMs: number;
  /** Mean time to repair (mean `down` duration) over the window, ms; NaN without failures. */
  mttrMs: number;
  /** Counter totals since the engine started (deltas, wrap-around and resets handled). */
  partsTotal: number;
  partsGood: number;
  partsScrap: number;
}

/** One station's part in the bottleneck over a window (active-period method, Roser). */
export interface BottleneckShare {
  station: string;
  /** Share of the window in which the station was the sole bottleneck, 0..1. */
  soleShare: number;
  /** Share of the window in which the station was a shifting bottleneck, 0..1 (an overlap counts for both stations). */
  shiftingShare: number;
  /** soleShare + shiftingShare. */
  share: number;
}

/** The bottleneck of a line. */
export interface Bottleneck {
  line: string;
  /** The momentary bottleneck: the station with the longest ongoing active period; null if none active. */
  momentary: string | null;
  /** Whether the momentary bottleneck is shifting: its ongoing active period overlaps the previous bottleneck's active period (it took over without a gap). */
  shifting: boolean;
  fromMs: number;
  toMs: number;
  /** Per station, sorted by share, largest first. */
  shares: BottleneckShare[];
  /** The station with the largest share over the window; null without data. */
  average: string | null;
}

/** KPIs of a line: the last station's output, buffers, bottleneck. */
export interface LineKpis {
  line: string;
  /** Throughput of the line (its last station). */
  throughput: Throughput;
  /** Line OEE over the current shift, ISO 22400-2 with the last station as output. */
  oee: Oee;
  /** Work in process per buffer path, parts (last level). */
  wip: Record<string, number>;
  /** Total WIP in the line's buffers, parts. */
  wipTotal: number;
  bottleneck: Bottleneck;
}

/** The live twin's view of an asset (stations carry state and KPIs). */
export interface AssetView {
  path: string;
  kind: AssetKind;
  type?: string;
  line?: string;
  /** Current machine state (stations only). */
  state?: MachineState;
  /** When the current state began, source time ms. */
  since?: number;
  reason?: string;
  faultCode?: number;
  /** Current production. */
  production?: ProductionContext;
  kpis?: StationKpis;
}

/** ISA-18.2 alarm states (ANSI/ISA-18.2-2016 §11, the alarm state transition diagram). */
export type AlarmState = 'normal' | 'active-unacked' | 'active-acked' | 'cleared-unacked';

/** Alarm priorities, lowest first. */
export type AlarmPriority = 'low' | 'medium' | 'high' | 'urgent';

/** What raises an alarm: a limit of a signal, or a station fault. */
export type AlarmKind = 'lolo' | 'lo' | 'hi' | 'hihi' | 'fault';

/** One alarm and its life-cycle state. */
export interface AlarmView {
  /** Stable id: `${source}:${kind}`. */
  id: string;
  /** Signal path (limit alarms) or station path (fault alarms). */
  source: string;
  kind: AlarmKind;
  priority: AlarmPriority;
  state: AlarmState;
  /** Shelved alarms keep their state but are not annunciated. */
  shelved: boolean;
  shelvedBy?: string;
  /** Shelving ends at this time, ms since epoch. */
  shelvedUntil?: number;
  /** The limit crossed (limit alarms). */
  limit?: number;
  /** The value that raised or last updated the alarm. */
  value?: number;
  message: string;
  /** When it became active, source time ms. */
  activeSince?: number;
  /** When it last changed state. */
  changedAt: number;
  ackedBy?: string;
  ackedAt?: number;
}

/** A transition of an alarm, as journaled (historian events of kind `alarm`). */
export interface AlarmTransition {
  alarm: string;
  from: AlarmState;
  to: AlarmState;
  /** `raise`, `clear`, `ack`, `shelve`, `unshelve`. */
  action: 'raise' | 'clear' | 'ack' | 'shelve' | 'unshelve';
  ts: number;
  user?: string;
  value?: number;
}

/** Kinds of anomaly the engine detects on process values. */
export type AnomalyKind = 'limit' | 'ewma' | 'cusum' | 'run-rule' | 'rate-of-change' | 'stuck' | 'trend';

/** One detected anomaly (edge-triggered: one event per episode). */
export interface AnomalyEvent {
  /** `${signal}:${kind}@${ts}`. */
  id: string;
  signal: string;
  station?: string;
  kind: AnomalyKind;
  /** Detail, e.g. `up`/`down` for a level shift, the Western Electric rule number. */
  detail: string;
  ts: number;
  value: number;
  message: string;
}

/** Counts of rejected or notable input per source (`(none)` for unbound signals). */
export interface InputStats {
  source: string;
  accepted: number;
  unknownSignal: number;
  nan: number;
  wrongType: number;
  backwards: number;
  duplicate: number;
  /** Samples of bad quality (accepted into the twin, kept out of KPIs). */
  badQuality: number;
}

/** One change of the live twin, numbered by the change feed. */
export type TwinChange =
  | {
      seq: number;
      kind: 'signal';
      path: string;
      value: SampleValue;
      quality: Quality;
      ts: number;
    }
  | { seq: number; kind: 'state'; path: string; state: MachineState; ts: number; data: StateEventData }
  | { seq: number; kind: 'alarm'; path: string; ts: number; alarm: AlarmView; transition: AlarmTransition }
  | { seq: number; kind: 'anomaly'; path: string; ts: number; anomaly: AnomalyEvent };

/** The kinds of {@link TwinChange}. */
export type TwinChangeKind = TwinChange['kind'];

/**
 * A consistent snapshot of the twin: it reflects every change up to and including `seq`, so
 * `changesSince(snapshot.seq)` gives exactly the changes after it (none missed, none repeated).
 */
export interface TwinSnapshot {
  seq: number;
  /** Engine clock time of the snapshot, ms since epoch. */
  at: number;
  signals: SignalView[];
  assets: AssetView[];
  lines: LineKpis[];
  alarms: AlarmView[];
}

/**
 * A query of the twin. Every given criterion must hold (AND).
 * Examples: every temperature out of its normal range: `{ unit: '°C', outOfNormal: true }`;
 * every station that is down: `{ state: 'down' }`.
 */
export interface TwinQuery {
  /** MQTT-style namespace pattern (`acme/plant1/+/line1/#`). */
  pattern?: string;
  /** Signals of this role. */
  role?: SignalRole;
  /** Signals in this unit. */
  unit?: string;
  /** Signals whose last value is outside their normal range. */
  outOfNormal?: boolean;
  /** Signals that are stale. */
  stale?: boolean;
  /** Signals whose last value has this quality. */
  quality?: Quality;
  /** Stations in one of these states (selects assets, not signals). */
  state?: MachineState | readonly MachineState[];
}

/** The answer to a {@link TwinQuery}. */
export interface TwinQueryResult {
  seq: number;
  signals: SignalView[];
  assets: AssetView[];
}
