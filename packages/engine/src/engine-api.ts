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

/** Options of {@link Engine.restore}. */
export interface RestoreOptions {
  /**
   * Start of the history brought back, ms: state and counter history from here (plus each such
   * signal's sample before it). Default: the earlier of the current shift's start and
   * `kpiWindowMs` ago.
   */
  fromMs?: number;
  /** Only this line's stations and signals (a line moving to this engine node). */
  line?: string;
  /**
   * Restore as of this source time, ms: only samples with `ts <= asOfMs`, as if the engine had
   * taken in the stream up to the message that ends there; the caller then replays the stream
   * from the next message. Default: everything the historian holds.
   */
  asOfMs?: number;
}

/** What {@link Engine.restore} brought back. */
export interface RestoreSummary {
  /** Closed state intervals the restored stations hold (derived again from their samples). */
  intervals: number;
  /** Counter samples replayed (part, good and scrap counters). */
  counterSamples: number;
  /** Signals that have a value after the restore. */
  signals: number;
  /** Signals whose anomaly baselines came back from their previous owner. */
  anomalyBaselines: number;
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
   * Warm start from the historian's raw samples: every sample since `fromMs` of the signals
   * that derive states and counts (state, reason, fault code, part counters, buffer levels),
   * with each one's sample before `fromMs`, goes through `ingest` again in source-time order;
   * every other signal gets its last value. States, state intervals (and their state events,
   * written again idempotently by id), counts and KPIs then come out as the engine derived
   * them live, up to `asOfMs` — whether or not a previous owner of the line wrote its events.
   * With `asOfMs` the caller replays the stream after that point: samples at or before a
   * signal's restored time are dropped by `ingest` as old or duplicate, so none counts twice.
   * With `line`, only that line, replacing what the engine held for it (call it before the
   * line's consumer starts); without, the whole engine, and only before it took any data in.
   * Without a historian it does nothing.
   * @example
   * await engine.restore({ line: 'acme/plant1/assembly/line1', asOfMs: cut.asOfMs });
   */
  restore(options?: RestoreOptions): Promise<RestoreSummary>;
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

  /**
   * KPIs of a station (OEE over the current shift unless a window is given). KPI windows start
   * no earlier than the engine's first sample (or the history it restored): time before it is
   * unknown, not lost, and the OEE's `fromMs` says where the window really began.
   */
  stationKpis(station: string, window?: { fromMs: number; toMs: number }): StationKpis | undefined;
  /** KPIs of a line. */
  lineKpis(line: string, window?: { fromMs: number; toMs: number }): LineKpis | undefined;
  /** OEE of a station or line over a window (ISO 22400-2), from the engine's first sample on. */
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
