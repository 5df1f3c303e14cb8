import type {
  BucketRow,
  Bus,
  Clock,
  Historian,
  HistorianEvent,
  LineInfo,
  Logger,
  MachineState,
  Model,
  RollupResolution,
  Sample,
  SampleBatch,
  SignalRole,
  Subscription,
  TimerHandle,
} from '@gemba/core';
import {
  GembaError,
  matchPath,
  QUALITY_CODE,
  SampleBatchBuilder,
  VALUE_KIND,
  validatePattern,
} from '@gemba/core';
import { Alarm, type AlarmConfig, compareAlarms } from './alarms.ts';
import { AnomalyDetectors, DEFAULT_ANOMALY_PARAMS } from './anomaly.ts';
import { computeBottleneck } from './bottleneck.ts';
import { ChangeFeed } from './change-feed.ts';
import { buildContexts, productionAt, type ScheduledOrder } from './context.ts';
import { counterDelta } from './counter.ts';
import type {
  AttachOptions,
  Engine,
  EngineOptions,
  EngineTuning,
  RestoreOptions,
  RestoreSummary,
  RollupListener,
} from './engine-api.ts';
import {
  actualCycleTimeS,
  computeOee,
  downtimePareto,
  oeeFrom,
  reliability,
  stateDurations,
  throughput,
} from './kpis.ts';
import { type DerivedState, inferMachineState, packmlToMachineState } from './machine-state.ts';
import { ShiftCalendar, type ShiftOccurrence } from './shift-calendar.ts';
import { PartEvents, StationTracker } from './station-tracker.ts';
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
import { Windows } from './windows.ts';

/** Default tuning; see {@link EngineTuning}. */
export const DEFAULT_TUNING: EngineTuning = {
  staleFactor: 3,
  tickMs: 1000,
  idleCycles: 3,
  offlineAfterMs: Number.POSITIVE_INFINITY,
  changeFeedCapacity: 1 << 18,
  historyMs: 7 * 86_400_000,
  baselineSamples: DEFAULT_ANOMALY_PARAMS.baselineSamples,
  trendHorizonMs: DEFAULT_ANOMALY_PARAMS.trendHorizonMs,
  trendWindowMin: DEFAULT_ANOMALY_PARAMS.trendWindowMin,
  kpiWindowMs: 8 * 3_600_000,
};

const ROLE_OTHER = 0;
const ROLE_STATE = 1;
const ROLE_REASON = 2;
const ROLE_FAULT = 3;
const ROLE_PARTS = 4;
const ROLE_GOOD = 5;
const ROLE_SCRAP = 6;
const ROLE_BUFFER = 7;
const ROLE_PROCESS = 8;
/** State and alarm events held for the historian while it is unavailable, at most. */
const MAX_PENDING_EVENTS = 100_000;
const ROLE_CODES: Partial<Record<SignalRole, number>> = {
  state: ROLE_STATE,
  state_reason: ROLE_REASON,
  fault_code: ROLE_FAULT,
  part_counter: ROLE_PARTS,
  good_counter: ROLE_GOOD,
  scrap_counter: ROLE_SCRAP,
  buffer_level: ROLE_BUFFER,
  process_value: ROLE_PROCESS,
};

// Input statistics columns.
const ST_ACCEPTED = 0;
const ST_UNKNOWN = 1;
const ST_NAN = 2;
const ST_TYPE = 3;
const ST_BACK = 4;
const ST_DUP = 5;
const ST_BAD = 6;
const ST_COLS = 7;
const NO_QUALITY = 255;
const QUALITY_NAMES = ['good', 'uncertain', 'bad'] as const;
/** Grace after a window's end before an idle signal's bucket is closed by the clock, ms. */
const WINDOW_GRACE_MS = 2000;
/** The `type` of the `system` events that keep a signal's anomaly baselines. */
const ANOMALY_BASELINE = 'anomaly-baseline';

/** Latest time the historian is asked about when a restore has no `asOfMs` (max Date), ms. */
const MAX_TIME_MS = 8.64e15;
/** How far back a restore looks for a signal's last sample before a time, step by step, ms. */
const RESTORE_LOOKBACK_MS = [60_000, 3_600_000, 86_400_000] as const;
/** Anomaly events and alarm transitions kept in memory. */
const JOURNAL_MAX = 10_000;

/**
 * Creates the engine for a model. It starts its own timer on `clock` (every `tickMs`) for
 * time-driven facts; call {@link Engine.stop} to end it.
 *
 * @example
 * const engine = createEngine({ model, clock: new RealClock(), logger });
 * await engine.attach(bus, { durable: 'engine', filter: 'gemba.samples.>' });
 */
export function createEngine(options: EngineOptions): Engine {
  return new GembaEngine(options);
}

interface StationWiring {
  tracker: StationTracker;
  upBuffer: number;
  downBuffer: number;
  downCapacity: number;
  faultAlarm: Alarm;
}

class GembaEngine implements Engine {
  readonly #model: Model;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #historian: Historian | undefined;
  readonly #t: EngineTuning;
  /** Source time of the first sample seen (or restored); KPI windows start no earlier. */
  #observedFromMs = Number.POSITIVE_INFINITY;
  /** The schedule: the model's orders until an MES pushes its own (`setOrders`). */
  #orders: readonly ScheduledOrder[];
  readonly #paths: string[];
  readonly #index = new Map<string, number>();
  readonly #contexts: SignalContext[];
  readonly #expKind: Uint8Array;
  readonly #role: Uint8Array;
  readonly #stationOf: Int32Array;
  readonly #srcOf: Int32Array;
  readonly #sourceNames: string[];
  readonly #stats: Float64Array;
  readonly #num: Float64Array;
  readonly #ts: Float64Array;
  readonly #quality: Uint8Array;
  readonly #vkind: Uint8Array;
  readonly #str: (string | undefined)[];
  readonly #recv: Float64Array;
  readonly #periodMs: Float64Array;
  readonly #normLo: Float64Array;
  readonly #normHi: Float64Array;
  readonly #stations: StationWiring[] = [];
  readonly #stationByPath = new Map<string, number>();
  readonly #bufferNeighbours = new Map<number, number[]>();
  readonly #calendar: ShiftCalendar;
  readonly #windows: Windows;
  readonly #anomaly: AnomalyDetectors;
  readonly #alarmBase: Int32Array;
  /** 1 for a station's own process values, analysed only while the station runs. */
  readonly #gated: Uint8Array;
  readonly #alarmCount: Uint8Array;
  readonly #alarms: Alarm[] = [];
  readonly #alarmById = new Map<string, Alarm>();
  readonly #feed: ChangeFeed;
  readonly #listeners = new Set<(changes: readonly TwinChange[]) => void>();
  readonly #rollupListeners = new Set<RollupListener>();
  readonly #journal: AlarmTransition[] = [];
  readonly #anomalies: AnomalyEvent[] = [];
  #notifiedSeq = 0;
  #pendingEvents: HistorianEvent[] = [];
  /** True while an append of the pending events waits in the write queue. */
  #eventsScheduled = false;
  #writing: Promise<void> = Promise.resolve();
  #timer: TimerHandle | undefined;
  #stopped = false;
  #lastPrune = 0;
  readonly #subs: Subscription[] = [];
  /** Counts state changes (cache key of derived results). */
  #stateVersion = 0;
  readonly #bottleneckCache = new Map<string, { key: string; value: Bottleneck }>();
  /** True when the historian has an `appendRollups(resolution, rows)` method. */
  readonly #historianTakesRollups: boolean;

  constructor(o: EngineOptions) {
    this.#model = o.model;
    this.#orders = o.model.orders;
    this.#clock = o.clock;
    this.#log = o.logger.child({ component: 'engine' });
    this.#historian = o.historian;
    this.#t = { ...DEFAULT_TUNING, ...o.tuning };
    const model = o.model;
    const n = model.signals.length;
    this.#paths = new Array(n);
    for (const s of model.signals) {
      this.#paths[s.index] = s.path;
      this.#index.set(s.path, s.index);
    }
    this.#contexts = buildContexts(model);
    this.#expKind = new Uint8Array(n);
    this.#role = new Uint8Array(n);
    this.#stationOf = new Int32Array(n).fill(-1);
    this.#srcOf = new Int32Array(n);
    this.#sourceNames = [...model.sources.map((s) => s.id), '(none)', '(unknown)'];
    const srcIdx = new Map(this.#sourceNames.map((s, i) => [s, i]));
    this.#stats = new Float64Array(this.#sourceNames.length * ST_COLS);
    this.#num = new Float64Array(n).fill(Number.NaN);
    this.#ts = new Float64Array(n).fill(Number.NaN);
    this.#quality = new Uint8Array(n).fill(NO_QUALITY);
    this.#vkind = new Uint8Array(n);
    this.#str = new Array(n);
    this.#recv = new Float64Array(n).fill(Number.NaN);
    this.#periodMs = new Float64Array(n).fill(Number.NaN);
    this.#normLo = new Float64Array(n).fill(Number.NEGATIVE_INFINITY);
    this.#normHi = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
    this.#alarmBase = new Int32Array(n).fill(-1);
    this.#gated = new Uint8Array(n);
    this.#alarmCount = new Uint8Array(n);
    this.#calendar = new ShiftCalendar(model.shifts, model.timezone);

    for (const line of model.lines) {
      for (const st of line.stations) {
        const tracker = new StationTracker(st.path, st.id, line.path, st.order);
        const up = line.buffers.find((b) => b.to === st.path);
        const down = line.buffers.find((b) => b.from === st.path);
        const levelOf = (path: string | undefined): number => {
          if (path === undefined) return -1;
          const a = model.asset(path);
          for (const sp of a?.signals ?? []) {
            if (model.signal(sp)?.def.role === 'buffer_level') return model.signal(sp)?.index ?? -1;
          }
          return -1;
        };
        const k = this.#stations.length;
        const wiring: StationWiring = {
          tracker,
          upBuffer: levelOf(up?.path),
          downBuffer: levelOf(down?.path),
          downCapacity: down?.capacity ?? Number.POSITIVE_INFINITY,
          faultAlarm: this.#addAlarm({
            source: st.path,
            kind: 'fault',
            priority: 'high',
            deadband: 0,
            onDelayMs: 0,
            offDelayMs: 0,
            message: `${st.name} is faulted`,
          }),
        };
        for (const b of [wiring.upBuffer, wiring.downBuffer]) {
          if (b < 0) continue;
          const list = this.#bufferNeighbours.get(b) ?? [];
          list.push(k);
          this.#bufferNeighbours.set(b, list);
        }
        this.#stations.push(wiring);
        this.#stationByPath.set(st.path, k);
      }
    }

    const ranges: Array<
      { normalMin?: number; normalMax?: number; trendLo?: number; trendHi?: number } | undefined
    > = new Array(n);
    for (const s of model.signals) {
      const i = s.index;
      const d = s.def;
      this.#expKind[i] =
        d.dataType === 'bool'
          ? VALUE_KIND.boolean
          : d.dataType === 'string'
            ? VALUE_KIND.string
            : VALUE_KIND.number;
      this.#role[i] = ROLE_CODES[d.role] ?? ROLE_OTHER;
      this.#srcOf[i] = srcIdx.get(s.source ?? '(none)') ?? srcIdx.get('(none)') ?? 0;
      if (d.periodMs !== undefined) this.#periodMs[i] = d.periodMs;
      if (d.normal?.min !== undefined) this.#normLo[i] = d.normal.min;
      if (d.normal?.max !== undefined) this.#normHi[i] = d.normal.max;
      if (s.station !== undefined) {
        const k = this.#stationByPath.get(s.station);
        if (k !== undefined) {
          this.#stationOf[i] = k;
          if (s.asset === s.station) this.#gated[i] = 1;
          if (d.role === 'state' && s.asset === s.station)
            (this.#stations[k] as StationWiring).tracker.hasStateSignal = true;
        }
      }
      if (d.role === 'process_value' && d.dataType !== 'string' && d.dataType !== 'bool') {
        const r: { normalMin?: number; normalMax?: number; trendLo?: number; trendHi?: number } = {};
        if (d.normal?.min !== undefined) r.normalMin = d.normal.min;
        if (d.normal?.max !== undefined) r.normalMax = d.normal.max;
        const tHi = d.limits?.hi ?? d.limits?.hihi ?? d.normal?.max;
        const tLo = d.limits?.lo ?? d.limits?.lolo ?? d.normal?.min;
        if (tHi !== undefined) r.trendHi = tHi;
        if (tLo !== undefined) r.trendLo = tLo;
        ranges[i] = r;
      }
      const lim = d.limits;
      if (lim !== undefined && d.dataType !== 'string') {
        const base = this.#alarms.length;
        for (const kind of ['hihi', 'hi', 'lo', 'lolo'] as const) {
          const limit = lim[kind];
          if (limit === undefined) continue;
          const high = kind === 'hi' || kind === 'hihi';
          this.#addAlarm({
            source: s.path,
            kind,
            priority: lim.priority ?? (kind === 'hihi' || kind === 'lolo' ? 'high' : 'medium'),
            limit,
            deadband: lim.deadband ?? 0,
            onDelayMs: lim.onDelayMs ?? 0,
            offDelayMs: lim.offDelayMs ?? 0,
            message: `${s.path} ${high ? 'above' : 'below'} ${kind} limit ${limit}${d.unit === undefined ? '' : ` ${d.unit}`}`,
          });
        }
        if (this.#alarms.length > base) {
          this.#alarmBase[i] = base;
          this.#alarmCount[i] = this.#alarms.length - base;
        }
      }
    }
    this.#windows = new Windows(this.#paths);
    this.#anomaly = new AnomalyDetectors(
      ranges,
      {
        ...DEFAULT_ANOMALY_PARAMS,
        baselineSamples: this.#t.baselineSamples,
        trendHorizonMs: this.#t.trendHorizonMs,
        trendWindowMin: this.#t.trendWindowMin,
      },
      (idx, kind, detail, ts, value) => this.#onAnomaly(idx, kind, detail, ts, value),
      (idx, ts) => this.#onBaseline(idx, ts),
    );
    this.#feed = new ChangeFeed(this.#t.changeFeedCapacity, this.#paths);
    this.#historianTakesRollups =
      typeof (this.#historian as { appendRollups?: unknown } | undefined)?.appendRollups === 'function';
    this.#windows.emit = this.#historianTakesRollups;
    this.#schedule();
  }

  #addAlarm(config: AlarmConfig): Alarm {
    const a = new Alarm(config);
    this.#alarms.push(a);
    this.#alarmById.set(a.id, a);
    return a;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      try {
        this.tick();
      } catch (err: unknown) {
        this.#log.error({ err }, 'engine tick failed');
      }
      this.#schedule();
    }, this.#t.tickMs);
  }

  get seq(): number {
    return this.#feed.seq;
  }

  // ---------------------------------------------------------------- the hot path

  ingest(batch: SampleBatch): void {
    const n = batch.length;
    if (n > 0 && this.#observedFromMs === Number.POSITIVE_INFINITY)
      this.#observedFromMs = batch.ts[0] as number;
    const signals = batch.signals;
    const tsCol = batch.ts;
    const numCol = batch.num;
    const kindCol = batch.kind;
    const qCol = batch.quality;
    const stats = this.#stats;
    const unknownSrc = this.#sourceNames.length - 1;
    const now = this.#clock.now();
    for (let i = 0; i < n; i++) {
      const idx = this.#index.get(signals[i] as string);
      if (idx === undefined) {
        stats[unknownSrc * ST_COLS + ST_UNKNOWN] = (stats[unknownSrc * ST_COLS + ST_UNKNOWN] as number) + 1;
        continue;
      }
      const so = (this.#srcOf[idx] as number) * ST_COLS;
      const t = tsCol[i] as number;
      let k = kindCol[i] as number;
      let v = numCol[i] as number;
      const q = qCol[i] as number;
      const exp = this.#expKind[idx] as number;
      if (k !== exp) {
        // Booleans as 0/1 numbers (Modbus coils) and numbers into bool signals are fine.
        if (exp === VALUE_KIND.boolean && k === VALUE_KIND.number && (v === 0 || v === 1)) k = exp;
        else if (exp === VALUE_KIND.number && k === VALUE_KIND.boolean) k = exp;
        else if (q !== QUALITY_CODE.bad) {
          stats[so + ST_TYPE] = (stats[so + ST_TYPE] as number) + 1;
          continue;
        } else {
          k = exp;
          v = Number.NaN;
        }
      }
      if (!Number.isFinite(t)) {
        stats[so + ST_NAN] = (stats[so + ST_NAN] as number) + 1;
        continue;
      }
      if (k !== VALUE_KIND.string && q !== QUALITY_CODE.bad && !Number.isFinite(v)) {
        stats[so + ST_NAN] = (stats[so + ST_NAN] as number) + 1;
        continue;
      }
      // A `bad` sample is often stamped by the gateway's clock, the next good one by the device's:
      // time after a bad sample is not held against the good sample that follows it.
      const last =
        this.#quality[idx] === QUALITY_CODE.bad && q !== QUALITY_CODE.bad
          ? Number.NaN
          : (this.#ts[idx] as number);
      if (t < last) {
        stats[so + ST_BACK] = (stats[so + ST_BACK] as number) + 1;
        continue;
      }
      if (
        t === last &&
        q === this.#quality[idx] &&
        (k === VALUE_KIND.string
          ? batch.str?.[i] === this.#str[idx]
          : v === this.#num[idx] || Number.isNaN(v))
      ) {
        // The same sample again. A different value at the same time is a correction and is taken
        // (last write wins, as in the historian).
        stats[so + ST_DUP] = (stats[so + ST_DUP] as number) + 1;
        continue;
      }
      stats[so + ST_ACCEPTED] = (stats[so + ST_ACCEPTED] as number) + 1;
      if (q === QUALITY_CODE.bad) stats[so + ST_BAD] = (stats[so + ST_BAD] as number) + 1;
      // The twin, updated here so that later stages read the value from its columns (numbers
      // passed between functions would be boxed; indices are not).
      const old = this.#num[idx] as number;
      const s = k === VALUE_KIND.string ? batch.str?.[i] : undefined;
      const changed =
        q !== this.#quality[idx] ||
        k !== this.#vkind[idx] ||
        (k === VALUE_KIND.string
          ? s !== this.#str[idx]
          : !(v === old || (Number.isNaN(v) && Number.isNaN(old))));
      this.#num[idx] = v;
      this.#ts[idx] = t;
      this.#quality[idx] = q;
      this.#vkind[idx] = k;
      if (k === VALUE_KIND.string) this.#str[idx] = s;
      this.#recv[idx] = now;
      if (changed) this.#feed.pushSignal(idx, this.#num, this.#ts, k, s, q);
      this.#derived(idx);
    }
    this.#afterWork();
  }

  /** Derived facts of the sample just stored in the twin's columns for signal `idx`. */
  #derived(idx: number): void {
    const t = this.#ts[idx] as number;
    const k = this.#vkind[idx] as number;
    const st = this.#stationOf[idx] as number;
    const good = this.#quality[idx] !== QUALITY_CODE.bad;
    if (st >= 0) {
      const tr = (this.#stations[st] as StationWiring).tracker;
      tr.lastSeenMs = t;
      // Back from silence (offlineAfterMs): the station's last known inputs decide again.
      if (tr.state === 'offline' && tr.reason === 'silent' && good) this.#recompute(st, t);
    }
    const role = this.#role[idx] as number;
    if (role !== ROLE_OTHER && role !== ROLE_PROCESS) this.#roleSample(idx, role, st, good);
    if (k !== VALUE_KIND.string && good) {
      this.#windows.add(idx, this.#ts, this.#num);
      if (this.#anomaly.enabled(idx)) {
        // A station's own process values (motor current, vibration) are analysed while it runs:
        // a waiting or stopped machine's values are not its process. Equipment below a station
        // (oven zones) has its own dynamics and is always analysed.
        const w = this.#gated[idx] === 1 ? this.#stations[st] : undefined;
        if (w === undefined || w.tracker.state === 'running') this.#anomaly.add(idx, this.#ts, this.#num);
      }
      const base = this.#alarmBase[idx] as number;
      // State-based suppression (ISA-18.2 §10.4, designed suppression): a station's own process
      // values are not judged against their limits while it does not run, so that each stop of
      // the machine does not clear and re-raise the alarm.
      if (
        base >= 0 &&
        (this.#gated[idx] === 0 || (this.#stations[st] as StationWiring).tracker.state === 'running')
      ) {
        const end = base + (this.#alarmCount[idx] as number);
        for (let a = base; a < end; a++) {
          const alarm = this.#alarms[a] as Alarm;
          const tr = alarm.updateFrom(idx, this.#ts, this.#num);
          if (tr !== undefined) this.#alarmTransition(alarm, tr);
        }
      }
    }
  }

  /** States and counts from a sample of a station's state, reason, fault, counter or buffer signal. */
  #roleSample(idx: number, role: number, st: number, good: boolean): void {
    const t = this.#ts[idx] as number;
    const v = this.#num[idx] as number;
    switch (role) {
      case ROLE_STATE: {
        const w = this.#stations[st];
        if (w === undefined) break;
        w.tracker.stateBad = !good;
        if (good) w.tracker.packml = v;
        this.#recompute(st, t);
        break;
      }
      case ROLE_REASON: {
        const w = this.#stations[st];
        if (w === undefined || !good) break;
        w.tracker.reasonCode = v;
        this.#recompute(st, t);
        break;
      }
      case ROLE_FAULT: {
        const w = this.#stations[st];
        if (w === undefined || !good) break;
        w.tracker.faultCode = v;
        this.#alarmTransition(w.faultAlarm, w.faultAlarm.update(v, t));
        this.#recompute(st, t);
        break;
      }
      case ROLE_PARTS:
      case ROLE_GOOD:
      case ROLE_SCRAP: {
        const w = this.#stations[st];
        if (w === undefined) break;
        // Without a state signal, the part counter tells whether the source is there.
        if (role === ROLE_PARTS && !w.tracker.hasStateSignal && w.tracker.stateBad === good) {
          w.tracker.stateBad = !good;
          this.#recompute(st, t);
        }
        if (!good) break;
        const c = role - ROLE_PARTS;
        const tr = w.tracker;
        const lastCount = tr.lastCounter[c] as number;
        tr.lastCounter[c] = v;
        if (Number.isNaN(lastCount)) break;
        const delta = counterDelta(lastCount, v);
        if (delta <= 0) break;
        (c === 0 ? tr.produced : c === 1 ? tr.good : tr.scrap).add(t, delta);
        if (c === 0) {
          tr.lastCountMs = t;
          if (!tr.hasStateSignal) this.#recompute(st, t);
        }
        break;
      }
      case ROLE_BUFFER: {
        const near = this.#bufferNeighbours.get(idx);
        if (near !== undefined && good) {
          for (const k2 of near)
            if (!(this.#stations[k2] as StationWiring).tracker.hasStateSignal) this.#recompute(k2, t);
        }
        break;
      }
      default:
        break;
    }
  }

  #idealCycleMs(w: StationWiring, atMs: number): number {
    const ict = productionAt(this.#model, w.tracker.line, atMs, this.#orders).idealCycleTimeS?.[w.tracker.id];
    return ict === undefined ? Number.NaN : ict * 1000;
  }

  #derive(w: StationWiring, t: number): DerivedState {
    const tr = w.tracker;
    if (tr.hasStateSignal) {
      if (tr.stateBad) return { state: 'offline', reason: 'bad quality' };
      if (Number.isNaN(tr.packml)) return { state: 'offline', reason: 'no data' };
      return packmlToMachineState(tr.packml, tr.reasonCode, tr.faultCode);
    }
    if (tr.stateBad) return { state: 'offline', reason: 'bad quality' };
    const ict = this.#idealCycleMs(w, t);
    return inferMachineState({
      faultCode: tr.faultCode,
      lastCountMs: tr.lastCountMs,
      nowMs: t,
      idleAfterMs: this.#t.idleCycles * (Number.isNaN(ict) ? 60_000 : ict),
      upstreamLevel: w.upBuffer >= 0 ? (this.#num[w.upBuffer] as number) : Number.NaN,
      downstreamLevel: w.downBuffer >= 0 ? (this.#num[w.downBuffer] as number) : Number.NaN,
      downstreamCapacity: w.downCapacity,
    });
  }

  #recompute(k: number, t: number, forced?: DerivedState): void {
    const w = this.#stations[k] as StationWiring;
    const next = forced ?? this.#derive(w, t);
    this.#setState(w, t, next);
  }

  #setState(w: StationWiring, t: number, next: DerivedState): void {
    const tr = w.tracker;
    const closed = tr.setState(t, next);
    if (closed === undefined) return;
    this.#stateVersion++;
    if (closed !== null) {
      const prod = productionAt(this.#model, tr.line, closed.startMs, this.#orders);
      if (prod.order !== undefined) closed.order = prod.order;
      if (prod.product !== undefined) closed.product = prod.product;
      this.#pendingEvents.push({
        id: `${tr.path}@${closed.startMs}`,
        kind: 'state',
        source: tr.path,
        ts: closed.startMs,
        data: { ...closed },
      });
    }
    const data: { state: MachineState; startMs: number; reason?: string; faultCode?: number } = {
      state: tr.state,
      startMs: tr.since,
    };
    if (tr.reason !== undefined) data.reason = tr.reason;
    if (tr.state === 'down' && tr.faultCode !== 0 && Number.isFinite(tr.faultCode))
      data.faultCode = tr.faultCode;
    this.#feed.push({ seq: 0, kind: 'state', path: tr.path, state: tr.state, ts: tr.since, data });
  }

  #alarmTransition(alarm: Alarm, tr: AlarmTransition | undefined): void {
    if (tr === undefined) return;
    this.#journal.push(tr);
    if (this.#journal.length > JOURNAL_MAX) this.#journal.splice(0, this.#journal.length - JOURNAL_MAX);
    const view = alarm.view();
    this.#feed.push({
      seq: 0,
      kind: 'alarm',
      path: alarm.config.source,
      ts: tr.ts,
      alarm: view,
      transition: tr,
    });
    this.#pendingEvents.push({
      id: `${tr.alarm}@${tr.ts}:${tr.action}`,
      kind: 'alarm',
      source: alarm.config.source,
      ts: tr.ts,
      data: { ...tr, priority: alarm.config.priority, message: alarm.config.message },
    });
  }

  /**
   * A signal's anomaly baseline just formed: kept in the historian (a `system` event of type
   * `anomaly-baseline`) so that an engine that takes the line over judges against the same one.
   */
  #onBaseline(idx: number, ts: number): void {
    if (this.#historian === undefined) return;
    const signal = this.#paths[idx] as string;
    const b = this.#anomaly.baselines(idx);
    const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);
    this.#pendingEvents.push({
      id: `${signal}:anomaly-baseline@${ts}`,
      kind: 'system',
      source: signal,
      ts,
      data: {
        type: ANOMALY_BASELINE,
        mean: finite(b.mean),
        sigma: finite(b.sigma),
        spcMean: finite(b.spcMean),
        spcSigma: finite(b.spcSigma),
      },
    });
  }

  /**
   * Restores anomaly detection for signals `analysed` (restore): the baselines their previous
   * owner learnt, then their last trend window of history fed through the detectors with
   * reporting off, so that the EWMA, CUSUM, trend, stuck counts and hold-offs carry on.
   */
  async #restoreAnomaly(
    h: Historian,
    analysed: readonly number[],
    line: string | undefined,
    untilMs: number,
    endMs: number,
  ): Promise<number> {
    if (analysed.length === 0) return 0;
    const wanted = new Set(analysed);
    const events = await h.queryEvents({
      fromMs: 0,
      toMs: endMs,
      kind: 'system',
      ...(line === undefined ? {} : { sourcePrefix: line }),
    });
    const latest = new Map<number, Record<string, unknown>>();
    for (const e of events) {
      const idx = this.#index.get(e.source);
      if (idx !== undefined && wanted.has(idx) && e.data.type === ANOMALY_BASELINE) latest.set(idx, e.data);
    }
    const num = (x: unknown): number => (typeof x === 'number' ? x : Number.NaN);
    for (const [idx, d] of latest)
      this.#anomaly.setBaseline(idx, {
        mean: num(d.mean),
        sigma: num(d.sigma),
        spcMean: num(d.spcMean),
        spcSigma: num(d.spcSigma),
      });
    const fromMs = untilMs - (this.#t.trendWindowMin + 1) * 60_000;
    const rows = (
      await Promise.all(
        analysed.map(async (idx) =>
          (await h.queryRaw(this.#paths[idx] as string, { fromMs, toMs: endMs })).map((s) => ({ idx, s })),
        ),
      )
    ).flat();
    rows.sort((a, b) => a.s.ts - b.s.ts || a.idx - b.idx);
    const times = new Float64Array(this.#paths.length);
    const values = new Float64Array(this.#paths.length);
    this.#anomaly.replay(() => {
      for (const { idx, s } of rows) {
        if (typeof s.value !== 'number' || !Number.isFinite(s.value) || s.quality === 'bad') continue;
        // As live: a station's own process values only while it ran.
        const w = this.#gated[idx] === 1 ? this.#stations[this.#stationOf[idx] as number] : undefined;
        if (w !== undefined && w.tracker.intervalsIn(s.ts, s.ts + 1)[0]?.state !== 'running') continue;
        times[idx] = s.ts;
        values[idx] = s.value;
        this.#anomaly.add(idx, times, values);
      }
    });
    // A baseline that formed only now, in the replay (its owner had not got that far), is kept
    // for the next owner too.
    for (const idx of analysed)
      if (!latest.has(idx) && Number.isFinite(this.#anomaly.baselines(idx).sigma))
        this.#onBaseline(idx, untilMs);
    return latest.size;
  }

  #onAnomaly(idx: number, kind: AnomalyEvent['kind'], detail: string, ts: number, value: number): void {
    const signal = this.#paths[idx] as string;
    const ev: AnomalyEvent = {
      id: `${signal}:${kind}@${ts}`,
      signal,
      kind,
      detail,
      ts,
      value,
      message: `${kind} anomaly on ${signal}: ${detail} (value ${value})`,
    };
    const station = this.#contexts[idx]?.station;
    if (station !== undefined) ev.station = station;
    this.#anomalies.push(ev);
    if (this.#anomalies.length > JOURNAL_MAX) this.#anomalies.splice(0, this.#anomalies.length - JOURNAL_MAX);
    this.#feed.push({ seq: 0, kind: 'anomaly', path: signal, ts, anomaly: ev });
  }

  /** Hands closed windows and events on, and tells change listeners. */
  #afterWork(): void {
    if (this.#windows.hasClosed) {
      const drained = this.#windows.drain();
      const h = this.#historian as (Historian & { appendRollups?: unknown }) | undefined;
      for (const [res, rows] of drained) {
        for (const l of this.#rollupListeners) l(res, rows);
        if (h !== undefined && typeof h.appendRollups === 'function') {
          const append = h.appendRollups as (
            r: RollupResolution,
            rows: readonly BucketRow[],
          ) => Promise<void>;
          this.#write(() => append.call(h, res, rows));
        }
      }
    }
    if (this.#pendingEvents.length > 0 && !this.#eventsScheduled && this.#historian !== undefined) {
      // One append in the write queue at a time, taking every event pending when it starts:
      // a historian slower than the event rate gets fewer, larger appends instead of a backlog
      // of one small append per ingested batch.
      this.#eventsScheduled = true;
      this.#write(() => this.#flushEvents());
    }
    const seq = this.#feed.seq;
    if (seq !== this.#notifiedSeq) {
      if (this.#listeners.size > 0) {
        const changes = this.#feed.since(this.#notifiedSeq) ?? this.#feed.since(this.#feed.oldest - 1) ?? [];
        for (const l of this.#listeners) {
          try {
            l(changes);
          } catch (err: unknown) {
            this.#log.error({ err }, 'change listener failed');
          }
        }
      }
      this.#notifiedSeq = seq;
    }
  }

  async #flushEvents(): Promise<void> {
    this.#eventsScheduled = false;
    const h = this.#historian;
    const events = this.#pendingEvents;
    if (h === undefined || events.length === 0) return;
    this.#pendingEvents = [];
    try {
      await h.appendEvents(events);
    } catch (err: unknown) {
      // Kept for the next attempt (appends are idempotent by event id), up to a bound.
      this.#pendingEvents = events.concat(this.#pendingEvents);
      const over = this.#pendingEvents.length - MAX_PENDING_EVENTS;
      if (over > 0) {
        this.#pendingEvents.splice(0, over);
        this.#log.error(
          { dropped: over },
          'historian unavailable too long: oldest state and alarm events dropped',
        );
      }
      throw err;
    }
  }

  #write(fn: () => Promise<void>): void {
    this.#writing = this.#writing.then(fn).catch((err: unknown) => {
      this.#log.warn({ err }, 'historian write failed');
    });
  }

  tick(): void {
    const now = this.#clock.now();
    for (const w of this.#stations) {
      const tr = w.tracker;
      if (
        Number.isFinite(this.#t.offlineAfterMs) &&
        !Number.isNaN(tr.lastSeenMs) &&
        now - tr.lastSeenMs > this.#t.offlineAfterMs &&
        tr.state !== 'offline'
      ) {
        this.#setState(w, Math.max(tr.since, tr.lastSeenMs + this.#t.offlineAfterMs), {
          state: 'offline',
          reason: 'silent',
        });
        continue;
      }
      if (!tr.hasStateSignal) this.#idleAt(w, now);
    }
    for (let idx = 0; idx < this.#paths.length; idx++) {
      if (!this.#anomaly.enabled(idx) || this.#quality[idx] === QUALITY_CODE.bad) continue;
      const st = this.#stationOf[idx] as number;
      if (st >= 0 && (this.#stations[st] as StationWiring).tracker.state === 'offline') continue;
      if (this.#gated[idx] === 1 && (this.#stations[st] as StationWiring).tracker.state !== 'running')
        continue;
      this.#anomaly.checkSilent(idx, now);
    }
    for (const a of this.#alarms) {
      if (a.shelvedUntil !== undefined && now >= a.shelvedUntil) this.#alarmTransition(a, a.unshelve(now));
      this.#alarmTransition(a, a.evaluate(now));
    }
    this.#windows.closeIdle(now, WINDOW_GRACE_MS);
    if (now - this.#lastPrune > 60_000) {
      this.#lastPrune = now;
      for (const w of this.#stations) w.tracker.prune(now - this.#t.historyMs);
    }
    this.#afterWork();
  }

  /**
   * A station whose state is inferred and that has not counted for `idleCycles` ideal cycles
   * by `now` stops running, as of the moment the last cycle was due.
   */
  #idleAt(w: StationWiring, now: number): void {
    const tr = w.tracker;
    if (tr.state !== 'running') return;
    const ict = this.#idealCycleMs(w, now);
    const after = this.#t.idleCycles * (Number.isNaN(ict) ? 60_000 : ict);
    const at = tr.lastCountMs + after;
    if (now > at) this.#setState(w, Math.max(tr.since, at), this.#derive(w, now));
  }

  async attach(bus: Bus, options: AttachOptions): Promise<Subscription> {
    const consume: Parameters<Bus['consume']>[0] = { durable: options.durable, filter: options.filter };
    if (options.deliverFrom !== undefined) consume.deliverFrom = options.deliverFrom;
    const sub = await bus.consume(consume, (msg) => {
      try {
        this.ingest(msg.batch);
      } catch (err: unknown) {
        // ingest does not throw for bad input; anything here is a bug. Acknowledge anyway so one
        // poisonous batch cannot stall the stream, and say so.
        this.#log.error({ err, subject: msg.subject, seq: msg.seq }, 'engine failed on a batch');
      }
      msg.ack();
    });
    this.#subs.push(sub);
    return sub;
  }

  async restore(options: RestoreOptions = {}): Promise<RestoreSummary> {
    const summary: RestoreSummary = { intervals: 0, counterSamples: 0, signals: 0, anomalyBaselines: 0 };
    const h = this.#historian;
    if (h === undefined) return summary;
    const { line } = options;
    const inScope = (path: string | undefined): boolean =>
      line === undefined || (path !== undefined && (path === line || path.startsWith(`${line}/`)));
    const scope: number[] = [];
    for (let i = 0; i < this.#paths.length; i++)
      if (inScope(this.#contexts[i]?.line ?? this.#paths[i])) scope.push(i);
    const stations = this.#stations.filter((w) => inScope(w.tracker.line));
    if (line === undefined) {
      // The whole engine: only before it took any data in.
      if (scope.some((i) => !Number.isNaN(this.#ts[i] as number))) return summary;
    } else {
      // A line (back) on this engine node: what the engine held for it is replaced.
      for (const i of scope) {
        this.#num[i] = Number.NaN;
        this.#ts[i] = Number.NaN;
        this.#quality[i] = NO_QUALITY;
        this.#vkind[i] = 0;
        this.#str[i] = undefined;
        this.#recv[i] = Number.NaN;
      }
      for (const w of stations) {
        const old = w.tracker;
        w.tracker = new StationTracker(old.path, old.id, old.line, old.order);
        w.tracker.hasStateSignal = old.hasStateSignal;
      }
    }
    const asOfMs = options.asOfMs ?? Number.POSITIVE_INFINITY;
    const now = this.#clock.now();
    const shift = this.#calendar.current(now);
    const fromMs = Math.min(
      options.fromMs ?? Math.min(now - this.#t.kpiWindowMs, shift?.startMs ?? Number.POSITIVE_INFINITY),
      asOfMs,
    );
    // Exclusive end of every query: nothing newer than `asOfMs`.
    const endMs = Number.isFinite(asOfMs) ? asOfMs + 1 : MAX_TIME_MS;
    // The last sample of a signal before `beforeMs - skipMs`, looking back (from `beforeMs`)
    // further step by step.
    const lastBefore = async (signal: string, beforeMs: number, skipMs = 0): Promise<Sample | undefined> => {
      let toMs = beforeMs - skipMs;
      for (const lookBackMs of RESTORE_LOOKBACK_MS) {
        if (lookBackMs <= skipMs) continue;
        const rows = await h.queryRaw(signal, { fromMs: beforeMs - lookBackMs, toMs });
        const last = rows[rows.length - 1];
        if (last !== undefined) return last;
        toMs = beforeMs - lookBackMs;
      }
      return undefined;
    };
    const samples: Sample[] = [];
    // Signals that derive states and counts (state, reason, fault, counters, buffer levels):
    // every sample since `fromMs`, and the one before it, go through `ingest` again, so the
    // states, intervals and counts come out as the engine derived them live, whether or not the
    // previous owner wrote its state events before it stopped. Other signals: the last value.
    // Signals the historian has nothing of cost no further query.
    const scopePaths = scope.map((i) => this.#paths[i] as string);
    const last = scopePaths.length === 0 ? [] : await h.lastValues(scopePaths);
    await Promise.all(
      last.map(async (x) => {
        const role = this.#role[this.#index.get(x.signal) as number] as number;
        if (role === ROLE_OTHER || role === ROLE_PROCESS) {
          const s = x.ts <= asOfMs ? x : await lastBefore(x.signal, endMs);
          if (s !== undefined) samples.push(s);
          return;
        }
        if (x.ts < fromMs) {
          samples.push(x); // nothing since: its last sample is the one before `fromMs`
          return;
        }
        // The first step of the look-back in the same query as the history.
        const firstStepMs = RESTORE_LOOKBACK_MS[0];
        const rows = await h.queryRaw(x.signal, { fromMs: fromMs - firstStepMs, toMs: endMs });
        let k = 0;
        while (k < rows.length && (rows[k] as Sample).ts < fromMs) k++;
        const seed = k > 0 ? rows[k - 1] : await lastBefore(x.signal, fromMs, firstStepMs);
        if (seed !== undefined) samples.push(seed);
        for (; k < rows.length; k++) samples.push(rows[k] as Sample);
      }),
    );
    // Source-time order; at one time, in the order a station's inputs decide its state.
    const rank = (s: Sample): number => {
      const i = this.#index.get(s.signal) as number;
      const r = this.#role[i] as number;
      return (r === ROLE_OTHER || r === ROLE_PROCESS ? 99 : r) * this.#paths.length + i;
    };
    samples.sort((a, b) => a.ts - b.ts || rank(a) - rank(b));
    if (samples.length > 0) {
      const first = (samples[0] as Sample).ts;
      this.#observedFromMs = Math.min(this.#observedFromMs, Math.max(fromMs, first));
    }
    const inferred = stations.filter((w) => !w.tracker.hasStateSignal);
    let k = 0;
    while (k < samples.length) {
      const t = (samples[k] as Sample).ts;
      // What the engine's timer did live between two samples: an inferred station that stopped
      // counting went idle (`tick`), here in source time.
      for (const w of inferred) this.#idleAt(w, t);
      const b = new SampleBatchBuilder();
      for (; k < samples.length && (samples[k] as Sample).ts === t; k++) {
        const s = samples[k] as Sample;
        b.push(s.signal, s.ts, s.value, s.quality);
        const r = this.#role[this.#index.get(s.signal) as number] as number;
        if (r === ROLE_PARTS || r === ROLE_GOOD || r === ROLE_SCRAP) summary.counterSamples++;
      }
      this.ingest(b.build());
    }
    for (const w of stations) summary.intervals += w.tracker.intervals.length;
    for (const i of scope) if (!Number.isNaN(this.#ts[i] as number)) summary.signals++;
    summary.anomalyBaselines = await this.#restoreAnomaly(
      h,
      scope.filter((i) => this.#anomaly.enabled(i)),
      line,
      Math.min(asOfMs, now),
      endMs,
    );
    this.#stateVersion++;
    this.#log.info(
      { ...summary, line, fromMs, asOfMs: Number.isFinite(asOfMs) ? asOfMs : undefined },
      'engine restored from the historian',
    );
    return summary;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const s of this.#subs.splice(0)) await s.stop();
    this.#windows.closeAll();
    this.#afterWork();
    await this.#writing;
  }

  // ---------------------------------------------------------------- views

  #signalView(idx: number, now: number): SignalView {
    const q = this.#quality[idx] as number;
    const has = q !== NO_QUALITY;
    const ts = this.#ts[idx] as number;
    const k = this.#vkind[idx] as number;
    const num = this.#num[idx] as number;
    const value = !has
      ? null
      : k === VALUE_KIND.string
        ? (this.#str[idx] ?? '')
        : k === VALUE_KIND.boolean
          ? num !== 0
          : num;
    const period = this.#periodMs[idx] as number;
    const ageMs = has ? now - ts : null;
    const lo = this.#normLo[idx] as number;
    const hi = this.#normHi[idx] as number;
    const hasRange = Number.isFinite(lo) || Number.isFinite(hi);
    return {
      path: this.#paths[idx] as string,
      value,
      quality: has ? (QUALITY_NAMES[q] ?? 'bad') : 'bad',
      ts: has ? ts : null,
      receivedAt: has ? (this.#recv[idx] as number) : null,
      ageMs,
      stale: !has || (!Number.isNaN(period) && (ageMs as number) > this.#t.staleFactor * period),
      inNormalRange:
        has && hasRange && k !== VALUE_KIND.string && Number.isFinite(num) ? num >= lo && num <= hi : null,
      context: this.#contexts[idx] as SignalContext,
    };
  }

  #assetView(path: string, now: number, withKpis: boolean): AssetView | undefined {
    const a = this.#model.asset(path);
    if (a === undefined) return undefined;
    const v: AssetView = { path, kind: a.kind };
    if (a.type !== undefined) v.type = a.type;
    if (a.line !== undefined) v.line = a.line;
    const k = this.#stationByPath.get(path);
    if (k !== undefined) {
      const tr = (this.#stations[k] as StationWiring).tracker;
      v.state = tr.state;
      if (!Number.isNaN(tr.since)) v.since = tr.since;
      if (tr.reason !== undefined) v.reason = tr.reason;
      if (tr.faultCode !== 0 && Number.isFinite(tr.faultCode)) v.faultCode = tr.faultCode;
      v.production = productionAt(this.#model, tr.line, now, this.#orders);
      if (withKpis) {
        const kp = this.stationKpis(path);
        if (kp !== undefined) v.kpis = kp;
      }
    } else if (a.kind === 'line') {
      v.production = productionAt(this.#model, path, now, this.#orders);
    }
    return v;
  }

  snapshot(pattern?: string): TwinSnapshot {
    if (pattern !== undefined) this.#checkPattern(pattern);
    const now = this.#clock.now();
    const match = (p: string): boolean => pattern === undefined || matchPath(pattern, p);
    const signals: SignalView[] = [];
    for (let i = 0; i < this.#paths.length; i++)
      if (match(this.#paths[i] as string)) signals.push(this.#signalView(i, now));
    const assets: AssetView[] = [];
    for (const a of this.#model.assets) {
      if (!match(a.path)) continue;
      const v = this.#assetView(a.path, now, true);
      if (v !== undefined) assets.push(v);
    }
    const lines: LineKpis[] = [];
    for (const l of this.#model.lines) {
      if (pattern !== undefined && !match(l.path) && !l.stations.some((s) => match(s.path))) continue;
      const k = this.lineKpis(l.path);
      if (k !== undefined) lines.push(k);
    }
    const alarms = this.alarms({ all: true }).filter((a) => match(a.source));
    return { seq: this.#feed.seq, at: now, signals, assets, lines, alarms };
  }

  #checkPattern(pattern: string): void {
    try {
      validatePattern(pattern);
    } catch (err: unknown) {
      throw new GembaError('GEMBA_INVALID_ARGUMENT', `invalid namespace pattern '${pattern}'`, {
        cause: err,
      });
    }
  }

  changesSince(seq: number): TwinChange[] | undefined {
    return this.#feed.since(seq);
  }

  onChange(listener: (changes: readonly TwinChange[]) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  onRollup(listener: RollupListener): () => void {
    this.#rollupListeners.add(listener);
    this.#windows.emit = true;
    return () => {
      this.#rollupListeners.delete(listener);
      this.#windows.emit = this.#rollupListeners.size > 0 || this.#historianTakesRollups;
    };
  }

  query(q: TwinQuery): TwinQueryResult {
    if (q.pattern !== undefined) this.#checkPattern(q.pattern);
    const now = this.#clock.now();
    const signalCriteria =
      q.role !== undefined ||
      q.unit !== undefined ||
      q.outOfNormal !== undefined ||
      q.stale !== undefined ||
      q.quality !== undefined;
    const stateCriteria = q.state !== undefined;
    const signals: SignalView[] = [];
    if (signalCriteria || !stateCriteria) {
      for (let i = 0; i < this.#paths.length; i++) {
        const path = this.#paths[i] as string;
        if (q.pattern !== undefined && !matchPath(q.pattern, path)) continue;
        const c = this.#contexts[i] as SignalContext;
        if (q.role !== undefined && c.role !== q.role) continue;
        if (q.unit !== undefined && c.unit !== q.unit) continue;
        const v = this.#signalView(i, now);
        if (q.outOfNormal !== undefined && (v.inNormalRange === false) !== q.outOfNormal) continue;
        if (q.stale !== undefined && v.stale !== q.stale) continue;
        if (q.quality !== undefined && (v.value === null || v.quality !== q.quality)) continue;
        signals.push(v);
      }
    }
    const assets: AssetView[] = [];
    if (stateCriteria || !signalCriteria) {
      const states = q.state === undefined ? undefined : typeof q.state === 'string' ? [q.state] : q.state;
      for (const a of this.#model.assets) {
        if (q.pattern !== undefined && !matchPath(q.pattern, a.path)) continue;
        if (states !== undefined) {
          const k = this.#stationByPath.get(a.path);
          if (k === undefined || !states.includes((this.#stations[k] as StationWiring).tracker.state))
            continue;
        }
        const v = this.#assetView(a.path, now, false);
        if (v !== undefined) assets.push(v);
      }
    }
    return { seq: this.#feed.seq, signals, assets };
  }

  signal(path: string): SignalView | undefined {
    const idx = this.#index.get(path);
    return idx === undefined ? undefined : this.#signalView(idx, this.#clock.now());
  }

  asset(path: string): AssetView | undefined {
    return this.#assetView(path, this.#clock.now(), true);
  }

  context(path: string): SignalContext | undefined {
    const idx = this.#index.get(path);
    return idx === undefined ? undefined : this.#contexts[idx];
  }

  shifts(fromMs: number, toMs: number): ShiftOccurrence[] {
    return this.#calendar.occurrences(fromMs, toMs);
  }

  production(line: string, atMs?: number): ProductionContext {
    return productionAt(this.#model, line, atMs ?? this.#clock.now(), this.#orders);
  }

  setOrders(orders: readonly ScheduledOrder[]): void {
    this.#orders = [...orders];
  }

  // ---------------------------------------------------------------- KPIs

  /**
   * The start of a KPI window clipped to when the engine first saw data: time before it is
   * not known, so it is not counted as planned time without production (an engine started
   * mid-shift would otherwise report a tiny availability and a performance above 100 %).
   */
  #observedFrom(startMs: number, now: number): number {
    return Math.max(startMs, Math.min(this.#observedFromMs, now));
  }

  /**
   * A KPI window from when the engine first saw data (or the history it restored): planned time
   * before that is unknown, not lost, and must not count against availability (a plant started
   * mid-shift would otherwise lose the shift's first hours). A window wholly before it is empty.
   */
  #observedWindow(win: { fromMs: number; toMs: number }): { fromMs: number; toMs: number } {
    return { fromMs: this.#observedFrom(win.fromMs, win.toMs), toMs: win.toMs };
  }

  /** The default KPI window: the current shift so far, else the last `kpiWindowMs`. */
  #defaultWindow(now: number): { fromMs: number; toMs: number } {
    const occ = this.#calendar.current(now);
    return occ !== undefined
      ? { fromMs: this.#observedFrom(occ.startMs, now), toMs: now }
      : { fromMs: now - this.#t.kpiWindowMs, toMs: now };
  }

  stationKpis(station: string, window?: { fromMs: number; toMs: number }): StationKpis | undefined {
    const k = this.#stationByPath.get(station);
    if (k === undefined) return undefined;
    const w = this.#stations[k] as StationWiring;
    const tr = w.tracker;
    const now = this.#clock.now();
    const win = this.#observedWindow(window ?? this.#defaultWindow(now));
    const intervals = tr.intervalsIn(win.fromMs, win.toMs);
    const ictMs = this.#idealCycleMs(w, now);
    const occ = this.#calendar.current(now);
    const shiftPlanned =
      occ === undefined ? [] : this.#calendar.planned(this.#observedFrom(occ.startMs, now), now);
    const rel = reliability(intervals);
    return {
      station,
      throughput: throughput(tr.produced, now, shiftPlanned),
      cycleTimeS: actualCycleTimeS(tr, now - 900_000, now),
      idealCycleTimeS: ictMs / 1000,
      oee: computeOee(tr, win.fromMs, win.toMs, this.#calendar.planned(win.fromMs, win.toMs), ictMs / 1000),
      stateDurationsMs: stateDurations(intervals),
      downtimePareto: downtimePareto(intervals),
      mtbfMs: rel.mtbfMs,
      mttrMs: rel.mttrMs,
      partsTotal: tr.produced.total,
      partsGood: tr.good.total,
      partsScrap: tr.scrap.total,
    };
  }

  #lineOee(line: LineInfo, win: { fromMs: number; toMs: number }): Oee | undefined {
    const last = line.stations[line.stations.length - 1];
    if (last === undefined) return undefined;
    const w = this.#stations[this.#stationByPath.get(last.path) ?? -1];
    if (w === undefined) return undefined;
    const planned = this.#calendar.planned(win.fromMs, win.toMs);
    const o = computeOee(w.tracker, win.fromMs, win.toMs, planned, Number.NaN);
    // The line's ideal cycle time is its slowest station's (ISO 22400-2 for a production line).
    const ict = productionAt(this.#model, line.path, win.toMs, this.#orders).idealCycleTimeS ?? {};
    let lineIct = Number.NaN;
    for (const s of line.stations) {
      const v = ict[s.id];
      if (v !== undefined && !(v <= lineIct)) lineIct = v;
    }
    // The line produces whenever it is not down: its last station waiting for parts (starved
    // behind the bottleneck) is the line running slower than its pace, a performance loss,
    // not lost availability; else the line's performance would exceed 100 %.
    return oeeFrom({
      fromMs: o.fromMs,
      toMs: o.toMs,
      pbt: o.plannedBusyTimeMs,
      apt: Math.max(0, o.plannedBusyTimeMs - o.unplannedDownTimeMs),
      pdot: o.plannedDownTimeMs,
      adot: o.unplannedDownTimeMs,
      pq: o.producedQuantity,
      gq: o.goodQuantity,
      sq: o.scrapQuantity,
      ict: lineIct,
    });
  }

  lineKpis(linePath: string, window?: { fromMs: number; toMs: number }): LineKpis | undefined {
    const line = this.#model.line(linePath);
    if (line === undefined) return undefined;
    const now = this.#clock.now();
    const win = this.#observedWindow(window ?? this.#defaultWindow(now));
    const last = line.stations[line.stations.length - 1];
    const lastW = last === undefined ? undefined : this.#stations[this.#stationByPath.get(last.path) ?? -1];
    const occ = this.#calendar.current(now);
    const shiftPlanned =
      occ === undefined ? [] : this.#calendar.planned(this.#observedFrom(occ.startMs, now), now);
    const wip: Record<string, number> = {};
    let wipTotal = 0;
    for (const b of line.buffers) {
      const a = this.#model.asset(b.path);
      for (const sp of a?.signals ?? []) {
        const idx = this.#index.get(sp);
        if (idx === undefined || this.#role[idx] !== ROLE_BUFFER) continue;
        const v = this.#num[idx] as number;
        if (Number.isFinite(v)) {
          wip[b.path] = v;
          wipTotal += v;
        }
      }
    }
    const oee = this.#lineOee(line, win) as Oee;
    const bottleneck = this.bottleneck(linePath, window) as Bottleneck;
    return {
      line: linePath,
      throughput: throughput(lastW?.tracker.produced ?? new PartEvents(), now, shiftPlanned),
      oee,
      wip,
      wipTotal,
      bottleneck,
    };
  }

  oee(path: string, range: { fromMs: number; toMs: number }): Oee | undefined {
    const window = this.#observedWindow(range);
    const line = this.#model.line(path);
    if (line !== undefined) return this.#lineOee(line, window);
    const k = this.#stationByPath.get(path);
    if (k === undefined) return undefined;
    const w = this.#stations[k] as StationWiring;
    return computeOee(
      w.tracker,
      window.fromMs,
      window.toMs,
      this.#calendar.planned(window.fromMs, window.toMs),
      this.#idealCycleMs(w, window.toMs) / 1000,
    );
  }

  bottleneck(linePath: string, window?: { fromMs: number; toMs: number }): Bottleneck | undefined {
    const line = this.#model.line(linePath);
    if (line === undefined) return undefined;
    // The default window ends at the last whole tick, so that repeated asks within a tick (the
    // API's KPI timer, snapshots) reuse one computation.
    const now = Math.floor(this.#clock.now() / this.#t.tickMs) * this.#t.tickMs;
    const win = window ?? { fromMs: now - this.#t.kpiWindowMs, toMs: now };
    const key = `${linePath}|${win.fromMs}|${win.toMs}|${this.#stateVersion}`;
    const cached = this.#bottleneckCache.get(linePath);
    if (cached !== undefined && cached.key === key) return cached.value;
    const stations = line.stations.map((s) => s.path);
    const intervals = stations.map((p) => {
      const w = this.#stations[this.#stationByPath.get(p) ?? -1];
      return w === undefined ? [] : w.tracker.intervalsIn(win.fromMs, win.toMs);
    });
    const value = computeBottleneck(linePath, stations, intervals, win.fromMs, win.toMs);
    this.#bottleneckCache.set(linePath, { key, value });
    return value;
  }

  // ---------------------------------------------------------------- alarms

  alarms(options?: { all?: boolean }): AlarmView[] {
    const out: AlarmView[] = [];
    for (const a of this.#alarms) if (options?.all === true || a.state !== 'normal') out.push(a.view());
    return out.sort(compareAlarms);
  }

  #requireAlarm(id: string): Alarm {
    const a = this.#alarmById.get(id);
    if (a === undefined) {
      throw new GembaError('GEMBA_ENGINE_UNKNOWN_ALARM', `no alarm '${id}'`, { details: { id } });
    }
    return a;
  }

  acknowledge(id: string, user: string): AlarmView {
    const a = this.#requireAlarm(id);
    this.#alarmTransition(a, a.acknowledge(user, this.#clock.now()));
    this.#afterWork();
    return a.view();
  }

  shelve(id: string, user: string, durationMs: number): AlarmView {
    const a = this.#requireAlarm(id);
    if (!(durationMs > 0) || !Number.isFinite(durationMs)) {
      throw new GembaError(
        'GEMBA_INVALID_ARGUMENT',
        `shelve '${id}': duration must be a positive number of ms, got ${durationMs}`,
      );
    }
    const now = this.#clock.now();
    this.#alarmTransition(a, a.shelve(user, now, now + durationMs));
    this.#afterWork();
    return a.view();
  }

  unshelve(id: string, user: string): AlarmView {
    const a = this.#requireAlarm(id);
    this.#alarmTransition(a, a.unshelve(this.#clock.now(), user));
    this.#afterWork();
    return a.view();
  }

  alarmJournal(sinceMs?: number): AlarmTransition[] {
    return sinceMs === undefined ? [...this.#journal] : this.#journal.filter((t) => t.ts >= sinceMs);
  }

  anomalies(sinceMs?: number): AnomalyEvent[] {
    return sinceMs === undefined ? [...this.#anomalies] : this.#anomalies.filter((a) => a.ts >= sinceMs);
  }

  inputStats(): InputStats[] {
    return this.#sourceNames.map((source, i) => {
      const o = i * ST_COLS;
      return {
        source,
        accepted: this.#stats[o + ST_ACCEPTED] as number,
        unknownSignal: this.#stats[o + ST_UNKNOWN] as number,
        nan: this.#stats[o + ST_NAN] as number,
        wrongType: this.#stats[o + ST_TYPE] as number,
        backwards: this.#stats[o + ST_BACK] as number,
        duplicate: this.#stats[o + ST_DUP] as number,
        badQuality: this.#stats[o + ST_BAD] as number,
      };
    });
  }
}
