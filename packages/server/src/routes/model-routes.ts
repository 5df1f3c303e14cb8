import type { Model } from '@gemba/core';
import { z } from 'zod';
import { notFound } from '../http-error.ts';
import { type RouteSpec, route } from '../route-spec.ts';
import type { ApiContext } from './context.ts';

/** The model as the dashboard needs it: assets with their signals' definitions, lines in flow order. */
export function modelView(model: Model): unknown {
  return {
    enterprise: model.enterprise,
    name: model.file.enterprise.name ?? model.enterprise,
    timezone: model.timezone,
    assets: model.assets.map((a) => ({
      path: a.path,
      id: a.id,
      kind: a.kind,
      name: a.name,
      type: a.type,
      parent: a.parent,
      children: a.children,
      signals: a.signals,
      line: a.line,
      station: a.station,
    })),
    signals: model.signals.map((s) => ({
      path: s.path,
      name: s.name,
      asset: s.asset,
      station: s.station,
      line: s.line,
      source: s.source,
      description: s.def.description,
      dataType: s.def.dataType,
      unit: s.def.unit,
      role: s.def.role,
      normal: s.def.normal,
      range: s.def.range,
      limits: s.def.limits,
      writable: s.def.writable,
      enum: s.def.enum,
      periodMs: s.def.periodMs,
    })),
    lines: model.lines,
    products: model.products,
    shifts: model.shifts,
  };
}

/** Routes over the plant model. */
export function modelRoutes(ctx: ApiContext): RouteSpec[] {
  const model = ctx.runtime.model;
  const view = modelView(model);
  return [
    route({
      method: 'GET',
      url: '/api/model',
      role: 'viewer',
      tag: 'model',
      summary:
        'The plant model: hierarchy, signals with units and ranges, lines in flow order, products, shifts',
      handler: () => view,
    }),
    route({
      method: 'GET',
      url: '/api/model/signals',
      role: 'viewer',
      tag: 'model',
      summary: 'Signals whose path matches an MQTT-style pattern (+ one segment, # the rest)',
      query: z.strictObject({ pattern: z.string().min(1).default('#') }),
      handler: ({ query }) =>
        model.matchSignals(query.pattern).map((s) => ({ path: s.path, unit: s.def.unit, role: s.def.role })),
    }),
    route({
      method: 'GET',
      url: '/api/model/asset',
      role: 'viewer',
      tag: 'model',
      summary: 'One asset with its children and signals',
      query: z.strictObject({ path: z.string().min(1) }),
      handler: ({ query }) => {
        const a = model.asset(query.path);
        if (a === undefined) throw notFound(`asset '${query.path}'`);
        return { ...a, childAssets: model.children(a.path) };
      },
    }),
  ];
}
