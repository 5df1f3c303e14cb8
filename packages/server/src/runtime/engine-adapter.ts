import { type Clock, GembaError, type Model, matchPath } from '@gemba/core';
import type { AlarmView, AssetView, Engine, LineKpis, Oee, StationKpis, TwinChange } from '@gemba/engine';
import type {
  Actor,
  Alarm,
  AlarmPort,
  AlarmTransition,
  Kpi,
  KpiPort,
  TwinEntry,
  TwinPort,
  TwinState,
} from './runtime.ts';

/** What {@link adaptEngine} gives the runtime. */
export interface EngineAdapter {
  twin: TwinPort;
  kpis: KpiPort;
  alarms: AlarmPort;
  /** Stops the KPI timer. */
  stop(): void;
}

/** Options of {@link adaptEngine}. */
export interface EngineAdapterOptions {
  engine: Engine;
  model: Model;
  clock: Clock;
  /** How often live KPIs and bottlenecks are published, real ms. Default 1000. */
  kpiIntervalMs?: number;
}

/** An engine alarm in the API's shape. */
export function alarmFromEngine(a: AlarmView): Alarm {
  const out: Alarm = {
    id: a.id,
    source: a.source,
    area: a.source.split('/').slice(0, 3).join('/'),
    priority: a.priority,
    message: a.message,
    active: a.state === 'active-unacked' || a.state === 'active-acked',
    acknowledged: a.state === 'active-acked' || a.state === 'normal',
    raisedAt: a.activeSince ?? a.changedAt,
  };
  if (a.state === 'cleared-unacked' || a.state === 'normal') out.clearedAt = a.changedAt;
  if (a.ackedAt !== undefined) out.ackedAt = a.ackedAt;
  if (a.ackedBy !== undefined) out.ackedBy = a.ackedBy;
  if (a.shelved && a.shelvedUntil !== undefined) out.shelvedUntil = a.shelvedUntil;
  if (a.shelvedBy !== undefined) out.shelvedBy = a.shelvedBy;
  return out;
}

function kpiFromOee(path: string, oee: Oee, throughputPerHour: number, idealCycleTimeS: number): Kpi {
  const k: Kpi = {
    path,
    fromMs: oee.fromMs,
    toMs: oee.toMs,
    availability: oee.availability,
    performance: oee.effectiveness,
    quality: oee.qualityRate,
    oee: oee.oee,
    totalCount: oee.producedQuantity,
    goodCount: oee.goodQuantity,
    scrapCount: oee.scrapQuantity,
    throughputPerHour,
  };
  if (Number.isFinite(idealCycleTimeS) && idealCycleTimeS > 0) k.targetPerHour = 3600 / idealCycleTimeS;
  return k;
}

function stationKpi(k: StationKpis): Kpi {
  return kpiFromOee(k.station, k.oee, k.throughput.partsPerHour15m, k.idealCycleTimeS);
}

/**
 * Adapts the engine into the API's runtime ports: the twin (values, states, alarms from the
 * engine's change feed; live KPIs and the bottleneck published every `kpiIntervalMs`), KPIs by
 * window, and alarms with acknowledge/shelve.
 */
export function adaptEngine(options: EngineAdapterOptions): EngineAdapter {
  const { engine, model, clock } = options;
  const listeners = new Set<(changes: readonly TwinEntry[]) => void>();
  const transitionListeners = new Set<(t: AlarmTransition) => void>();
  const bottleneckSince = new Map<string, { station: string | null; sinceMs: number }>();

  const lineTarget = (line: string): number => {
    // The line's pace is set by its slowest station's ideal cycle time.
    let worst = Number.NaN;
    for (const st of model.line(line)?.stations ?? []) {
      const ict = engine.stationKpis(st.path)?.idealCycleTimeS ?? Number.NaN;
      if (Number.isFinite(ict) && !(ict <= worst)) worst = ict;
    }
    return worst;
  };
  const lineEntries = (k: LineKpis): TwinEntry[] => {
    const now = clock.now();
    const momentary = k.bottleneck.momentary;
    const prev = bottleneckSince.get(k.line);
    const bn = prev !== undefined && prev.station === momentary ? prev : { station: momentary, sinceMs: now };
    bottleneckSince.set(k.line, bn);
    return [
      {
        kind: 'kpi',
        path: k.line,
        kpi: kpiFromOee(k.line, k.oee, k.throughput.partsPerHour15m, lineTarget(k.line)),
      },
      { kind: 'bottleneck', path: k.line, station: bn.station, sinceMs: bn.sinceMs },
    ];
  };
  const stateEntry = (a: AssetView): TwinState | undefined => {
    if (a.state === undefined) return undefined;
    const s: TwinState = { kind: 'state', path: a.path, state: a.state, sinceMs: a.since ?? 0 };
    if (a.reason !== undefined) s.reason = a.reason;
    if (a.faultCode !== undefined) s.faultCode = a.faultCode;
    return s;
  };
  const fromChange = (c: TwinChange): TwinEntry | undefined => {
    switch (c.kind) {
      case 'signal':
        return { kind: 'value', path: c.path, value: c.value, quality: c.quality, ts: c.ts };
      case 'state': {
        const s: TwinState = { kind: 'state', path: c.path, state: c.state, sinceMs: c.data.startMs };
        if (c.data.reason !== undefined) s.reason = c.data.reason;
        if (c.data.faultCode !== undefined) s.faultCode = c.data.faultCode;
        return s;
      }
      case 'alarm':
        return { kind: 'alarm', path: c.alarm.source, alarm: alarmFromEngine(c.alarm) };
      default:
        return undefined;
    }
  };

  const offChange = engine.onChange((changes) => {
    const out: TwinEntry[] = [];
    for (const c of changes) {
      const e = fromChange(c);
      if (e !== undefined) out.push(e);
      if (c.kind === 'alarm' && c.transition.action !== 'unshelve') {
        const t: AlarmTransition = {
          type: c.transition.action,
          ts: c.transition.ts,
          alarm: alarmFromEngine(c.alarm),
        };
        for (const l of transitionListeners) l(t);
      }
    }
    if (out.length > 0) for (const l of listeners) l(out);
  });

  const timer = setInterval(() => {
    if (listeners.size === 0) return;
    const out: TwinEntry[] = [];
    for (const line of model.lines) {
      const k = engine.lineKpis(line.path);
      if (k !== undefined) out.push(...lineEntries(k));
      for (const st of line.stations) {
        const sk = engine.stationKpis(st.path);
        if (sk !== undefined) out.push({ kind: 'kpi', path: st.path, kpi: stationKpi(sk) });
      }
    }
    if (out.length > 0) for (const l of listeners) l(out);
  }, options.kpiIntervalMs ?? 1000);
  timer.unref();

  const twin: TwinPort = {
    snapshot(pattern) {
      const snap = engine.snapshot(pattern);
      const out: TwinEntry[] = [];
      for (const s of snap.signals) {
        out.push({ kind: 'value', path: s.path, value: s.value, quality: s.quality, ts: s.ts ?? 0 });
      }
      for (const a of snap.assets) {
        const s = stateEntry(a);
        if (s !== undefined) out.push(s);
        if (a.kpis !== undefined) out.push({ kind: 'kpi', path: a.path, kpi: stationKpi(a.kpis) });
      }
      for (const l of snap.lines) {
        for (const e of lineEntries(l)) if (matchPath(pattern, e.path) || pattern === '#') out.push(e);
      }
      for (const a of snap.alarms) {
        if (a.state !== 'normal') out.push({ kind: 'alarm', path: a.source, alarm: alarmFromEngine(a) });
      }
      return out;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };

  const kpis: KpiPort = {
    async kpis({ path, fromMs, toMs }) {
      const asset = model.requireAsset(path);
      const window = { fromMs, toMs };
      // Per hour of the window the engine observed (the OEE's window starts at its first sample).
      const perHour = (o: Oee) => o.goodQuantity / Math.max(1e-9, (o.toMs - o.fromMs) / 3_600_000);
      if (asset.kind === 'line') {
        const oee = engine.oee(path, window);
        if (oee === undefined) throw new GembaError('GEMBA_API_NOT_FOUND', `no KPIs for line '${path}'`);
        return kpiFromOee(path, oee, perHour(oee), lineTarget(path));
      }
      if (asset.kind === 'station') {
        const k = engine.stationKpis(path, window);
        if (k === undefined) throw new GembaError('GEMBA_API_NOT_FOUND', `no KPIs for station '${path}'`);
        return kpiFromOee(path, k.oee, perHour(k.oee), k.idealCycleTimeS);
      }
      throw new GembaError(
        'GEMBA_API_INVALID_INPUT',
        `KPIs are kept per station and line; '${path}' is a ${asset.kind}`,
      );
    },
  };

  const alarms: AlarmPort = {
    list: () => engine.alarms().map(alarmFromEngine),
    acknowledge: (id: string, by: Actor) => {
      const current = engine.alarms({ all: true }).find((a) => a.id === id);
      if (current === undefined) throw new GembaError('GEMBA_API_NOT_FOUND', `alarm '${id}' does not exist`);
      if (current.state === 'active-acked' || current.state === 'normal') {
        throw new GembaError('GEMBA_API_CONFLICT', `alarm '${id}' is already acknowledged`);
      }
      return alarmFromEngine(engine.acknowledge(id, by.name));
    },
    shelve: (id: string, by: Actor, untilMs: number) =>
      alarmFromEngine(engine.shelve(id, by.name, Math.max(1, untilMs - clock.now()))),
    onTransition(listener) {
      transitionListeners.add(listener);
      return () => transitionListeners.delete(listener);
    },
  };

  return {
    twin,
    kpis,
    alarms,
    stop() {
      clearInterval(timer);
      offChange();
    },
  };
}
