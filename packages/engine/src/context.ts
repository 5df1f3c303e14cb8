import type { Model, SignalInfo } from '@gemba/core';
import type { ProductionContext, SignalContext } from './types.ts';

/** The context of every signal of a model, by signal index (computed once). */
export function buildContexts(model: Model): SignalContext[] {
  const stationInfo = new Map<string, { order: number; up?: string; down?: string }>();
  for (const line of model.lines) {
    for (const st of line.stations) {
      const info: { order: number; up?: string; down?: string } = { order: st.order };
      for (const b of line.buffers) {
        if (b.to === st.path) info.up = b.path;
        if (b.from === st.path) info.down = b.path;
      }
      stationInfo.set(st.path, info);
    }
  }
  const out: SignalContext[] = new Array(model.signals.length);
  for (const s of model.signals) out[s.index] = contextOf(model, s, stationInfo.get(s.station ?? ''));
  return out;
}

function contextOf(
  model: Model,
  s: SignalInfo,
  st: { order: number; up?: string; down?: string } | undefined,
): SignalContext {
  const d = s.def;
  const c: SignalContext = { path: s.path, asset: s.asset, role: d.role, dataType: d.dataType };
  const type = model.asset(s.asset)?.type;
  if (type !== undefined) c.assetType = type;
  if (d.unit !== undefined) c.unit = d.unit;
  if (d.normal !== undefined) c.normal = d.normal;
  if (d.range !== undefined) c.range = d.range;
  if (d.limits !== undefined) c.limits = d.limits;
  if (d.periodMs !== undefined) c.periodMs = d.periodMs;
  if (s.line !== undefined) c.line = s.line;
  if (s.station !== undefined) c.station = s.station;
  if (st !== undefined) {
    c.stationOrder = st.order;
    if (st.up !== undefined) c.upstreamBuffer = st.up;
    if (st.down !== undefined) c.downstreamBuffer = st.down;
  }
  if (s.source !== undefined) c.source = s.source;
  return c;
}

/** A production order as the engine schedules it: the model's orders, or the schedule pushed by an MES. */
export interface ScheduledOrder {
  id: string;
  product: string;
  line: string;
  plannedStart?: string | undefined;
  due?: string | undefined;
  /** `running` marks the order the line runs now, whatever the plan says; `done`/`cancelled` orders are skipped. */
  status?: 'planned' | 'running' | 'done' | 'cancelled' | undefined;
}

/**
 * The production order running on `line` at `atMs`: an order of the line marked `running`
 * if there is one; else the latest order whose planned start is not after `atMs` (an order
 * without a planned start counts from the beginning), not yet due; else the first order of
 * the line. Done and cancelled orders are skipped. Its product's ideal cycle times come with it.
 */
export function productionAt(
  model: Model,
  line: string,
  atMs: number,
  orders: readonly ScheduledOrder[] = model.orders,
): ProductionContext {
  let best: { order: string; product: string; start: number } | undefined;
  let first: { order: string; product: string } | undefined;
  let running: { order: string; product: string } | undefined;
  for (const o of orders) {
    if (o.line !== line || o.status === 'done' || o.status === 'cancelled') continue;
    if (o.status === 'running') running ??= { order: o.id, product: o.product };
    first ??= { order: o.id, product: o.product };
    const start = o.plannedStart === undefined ? Number.NEGATIVE_INFINITY : Date.parse(o.plannedStart);
    const due = o.due === undefined ? Number.POSITIVE_INFINITY : Date.parse(o.due);
    if (start <= atMs && atMs < due && (best === undefined || start >= best.start)) {
      best = { order: o.id, product: o.product, start };
    }
  }
  const pick = running ?? best ?? first;
  const productId = pick?.product ?? (model.products.length === 1 ? model.products[0]?.id : undefined);
  const out: ProductionContext = {};
  if (pick !== undefined) out.order = pick.order;
  if (productId !== undefined) {
    out.product = productId;
    const p = model.products.find((x) => x.id === productId);
    if (p !== undefined) out.idealCycleTimeS = p.idealCycleTimeS;
  }
  return out;
}
