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

/**
 * The production order running on `line` at `atMs`: the latest order of the line whose
 * planned start is not after `atMs` (an order without a planned start counts from the
 * beginning), not yet due; else the first order of the line. Its product's ideal cycle times
 * come with it.
 */
export function productionAt(model: Model, line: string, atMs: number): ProductionContext {
  let best: { order: string; product: string; start: number } | undefined;
  let first: { order: string; product: string } | undefined;
  for (const o of model.orders) {
    if (o.line !== line) continue;
    first ??= { order: o.id, product: o.product };
    const start = o.plannedStart === undefined ? Number.NEGATIVE_INFINITY : Date.parse(o.plannedStart);
    const due = o.due === undefined ? Number.POSITIVE_INFINITY : Date.parse(o.due);
    if (start <= atMs && atMs < due && (best === undefined || start >= best.start)) {
      best = { order: o.id, product: o.product, start };
    }
  }
  const pick = best ?? first;
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
