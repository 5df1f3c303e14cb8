import type {
  BucketRow,
  Bus,
  Clock,
  DeliverFrom,
  Historian,
  Logger,
  Model,
  RollupResolution,
  SampleBatch,
  Subscription,
} from '@gemba/core';
import type { ScheduledOrder } from './context.ts';
import type { ShiftOccurrence } from './shift-calendar.ts';
import type {
  AlarmTransition,
  AlarmView,
  AnomalyEvent,
  AssetView,
  Bottleneck,
  InputStats,
  LineKpis,
  Oee,
  ProductionContext,
  SignalContext,
  SignalView,
  StationKpis,
  TwinChange,
  TwinQuery,
  TwinQueryResult,
  TwinSnapshot,
} from './types.ts';

/** Tunables of the engine; every field has a default. */
export interface EngineTuning {
  /** A signal is stale when its value is older than this many `periodMs`; default 3. */
  staleFactor: number;
  /** How often the engine evaluates time-driven facts (stale, inferred states, delays, shelving), ms; default 1000. */
  tickMs: number;
  /** Inferred state: a counter not moving for more than k × ideal cycle time means idle; default 3. */
  idleCycles: number;
  /**
   * A station with no sample on any of its signals for this long is offline, ms; default
   * `Infinity` (only bad quality of its state signal makes it offline), since protocols that
   * report by exception stay silent while nothing changes.
   */
  offlineAfterMs: number;
  /** Changes kept for `changesSince`, a power of two; default 1 << 18. */
  changeFeedCapacity: number;
  /** How long state intervals and part events are kept in memory for KPIs, ms; default 7 days. */
  historyMs: number;
  /** Anomaly detection: samples that form the baseline (mean, σ) of a process value; default 600. */
  baselineSamples: number;
  /** Trend detection: horizon within which a rising trend must be projected to cross its limit, ms; default 8 h. */
  trendHorizonMs: number;
  /** Trend detection: window of per-minute means the trend is fitted on, minutes; default 60. */
  trendWindowMin: number;
  /** Window of the bottleneck shares and OEE when the model has no shifts, ms; default 8 h. */
  kpiWindowMs: number;
}

/** What {@link createEngine} takes. */
export interface EngineOptions {
  model: Model;
  clock: Clock;
  logger: Logger;
  /** Where state events, the alarm journal and rollups go; none when omitted. */
  historian?: Historian;
  tuning?: Partial<EngineTuning>;
}

/** What {@link Engine.restore} brought back. */
export interface RestoreSummary {
  /** State intervals restored. */
  intervals: number;
  /** Counter samples replayed. */
  counterSamples: number;
  /** Signals whose last value was restored. */
  signals: number;
}

/** Options of {@link Engine.attach}. */
export interface AttachOptions {
  /** Durable consumer name on the bus. */
  durable: string;
  /** Subject filter (NATS wildcards), e.g. `gemba.samples.>`. */
  filter: string;
  deliverFrom?: DeliverFrom;
}

/** Closed-bucket aggregate of one signal (count, mean, min, max, stddev) as handed to the historian. */
export type RollupListener = (resolution: RollupResolution, rows: readonly BucketRow[]) => void;

/**
 * The engine: consumes the sample stream, keeps the live twin, derives states, KPIs, the
 * bottleneck, anomalies and alarms. Single-threaded; every method is synchronous except
 * `attach` and `stop`.
 *
 * @example
 * const engine = createEngine({ model, clock, logger });
 * const off = engine.onChange((changes) => send(changes));
 * engine.ingest(batch);
 * const snap = engine.snapshot('acme/plant1/+/line1/#');
 */
export interface Engine {
  /**
   * Takes in a batch (the hot path). Never throws for bad input: unknown signals, NaN, values
   * of the wrong type, time going backwards and duplicates are counted per source
   * ({@link Engine.inputStats}) and dropped.
   */
  ingest(batch: SampleBatch): void;
  /** Consumes the bus with a durable consumer, acknowledging each message after it is ingested. */
  attach(bus: Bus, options: AttachOptions): Promise<Subscription>;
  /** Evaluates time-driven facts now (called by the engine's own timer every `tickMs`). */
  tick(): void;
  /**
   * Warm start from the historian, before the first `ingest`/`attach`: state intervals (events
   * of kind `state`) and part-counter history since `fromMs` (default: the earlier of the
   * current shift's start and `kpiWindowMs` ago), then every signal's last value. KPIs then
   * cover what happened before the engine (re)started, e.g. when a line moves to another engine
   * node. With `line`, only that line's stations and signals (when a line moves to this engine
   * node). Without a historian, or once data was taken in for them, it does nothing.
   */
  restore(options?: { fromMs?: number; line?: string }): Promise<RestoreSummary>;
  /** Stops timers and consumers and flushes pending historian writes. */
  stop(): Promise<void>;

  /** The sequence number of the last change (0 before any). */
  readonly seq: number;
  /** A consistent snapshot, optionally limited to paths matching an MQTT-style pattern. */
  snapshot(pattern?: string): TwinSnapshot;
  /**
   * Changes with a sequence number greater than `seq`, in order; `undefined` when some of them
   * have already left the feed's ring (take a new snapshot).
   */
  changesSince(seq: number): TwinChange[] | undefined;
  /** Calls `listener` with the changes of each ingest/tick, in order. Returns an unsubscribe function. */
  onChange(listener: (changes: readonly TwinChange[]) => void): () => void;
  /** Signals and stations matching every criterion of `query`. */
  query(query: TwinQuery): TwinQueryResult;
  /** The view of one signal, or undefined when the model has no such signal. */
  signal(path: string): SignalView | undefined;
  /** The view of one asset, or undefined. */
  asset(path: string): AssetView | undefined;
  /** The context a signal's samples are enriched with, or undefined for an unknown path. */
  context(path: string): SignalContext | undefined;
  /**
   * The model's shifts laid out over [fromMs, toMs) (with their planned breaks), for KPIs per
   * shift: pass an occurrence's `{ fromMs: startMs, toMs: endMs }` to `oee`/`stationKpis`.
   */
  shifts(fromMs: number, toMs: number): ShiftOccurrence[];
  /** The production order and product running on a line at `atMs` (default now). */
  production(line: string, atMs?: number): ProductionContext;
  /**
   * Replaces the schedule (an MES pushed orders, or a CSV was imported): from now on every
   * sample's context, state event and KPI carries the order running on its line under it.
   */
  setOrders(orders: readonly ScheduledOrder[]): void;

  /** KPIs of a station (OEE over the current shift unless a window is given). */
  stationKpis(station: string, window?: { fromMs: number; toMs: number }): StationKpis | undefined;
  /** KPIs of a line. */
  lineKpis(line: string, window?: { fromMs: number; toMs: number }): LineKpis | undefined;
  /** OEE of a station or line over a window (ISO 22400-2). */
  oee(path: string, window: { fromMs: number; toMs: number }): Oee | undefined;
  /** The bottleneck of a line over a window (default: the tuning's `kpiWindowMs` up to now). */
  bottleneck(line: string, window?: { fromMs: number; toMs: number }): Bottleneck | undefined;

  /** Alarms not in `normal` state (or all with `all: true`), highest priority first. */
  alarms(options?: { all?: boolean }): AlarmView[];
  /**
   * Acknowledges an alarm on behalf of `user`.
   * @throws GembaError GEMBA_ENGINE_UNKNOWN_ALARM when there is no such alarm.
   */
  acknowledge(id: string, user: string): AlarmView;
  /**
   * Shelves an alarm for `durationMs` on behalf of `user`.
   * @throws GembaError GEMBA_ENGINE_UNKNOWN_ALARM, GEMBA_INVALID_ARGUMENT for a bad duration.
   */
  shelve(id: string, user: string, durationMs: number): AlarmView;
  /** Ends shelving early. @throws GembaError GEMBA_ENGINE_UNKNOWN_ALARM */
  unshelve(id: string, user: string): AlarmView;
  /** The alarm journal kept in memory (most recent last), optionally since a time. */
  alarmJournal(sinceMs?: number): AlarmTransition[];
  /** Recent anomaly events (most recent last), optionally since a time. */
  anomalies(sinceMs?: number): AnomalyEvent[];
  /** Registers a listener for closed windowed aggregates (1 s, 1 min, 1 h). */
  onRollup(listener: RollupListener): () => void;

  /** Input counters per source. */
  inputStats(): InputStats[];
}
