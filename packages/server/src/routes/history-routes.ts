import { GembaError } from '@gemba/core';
import { z } from 'zod';
import { bucketsSchema, eventsSchema, lastSchema, rawSchema } from '../response-schemas.ts';
import { type RouteSpec, route } from '../route-spec.ts';
import { type ApiContext, pathList, resolveRange, timeParam } from './context.ts';

const EVENT_KINDS = ['state', 'alarm', 'audit', 'order', 'system'] as const;

/** Routes over the historian: raw, bucketed, last values, state timelines, events, CSV export. */
export function historyRoutes(ctx: ApiContext): RouteSpec[] {
  const { runtime } = ctx;
  const { historian, model, clock } = runtime;
  const knownSignals = (paths: string[]): string[] => {
    for (const p of paths) model.requireSignal(p);
    return paths;
  };
  const rangeFields = { from: timeParam.optional(), to: timeParam.optional() };
  const bucketFor = (fromMs: number, toMs: number, bucketMs: number | undefined, points: number): number => {
    if (toMs <= fromMs) {
      throw new GembaError('GEMBA_API_INVALID_INPUT', `empty range: from ${fromMs} is not before to ${toMs}`);
    }
    return bucketMs ?? Math.max(1000, Math.ceil((toMs - fromMs) / points / 1000) * 1000);
  };
  return [
    route({
      method: 'GET',
      url: '/api/history/raw',
      response: rawSchema,
      role: 'viewer',
      tag: 'history',
      summary: 'Raw samples of one signal in a range (time order)',
      query: z.strictObject({
        signal: z.string().min(1),
        ...rangeFields,
        limit: z.coerce.number().int().positive().max(100_000).default(10_000),
      }),
      handler: async ({ query }) => {
        knownSignals([query.signal]);
        const range = resolveRange(query, clock.now());
        return { ...range, samples: await historian.queryRaw(query.signal, range, query.limit) };
      },
    }),
    route({
      method: 'GET',
      url: '/api/history/buckets',
      response: bucketsSchema,
      role: 'viewer',
      tag: 'history',
      summary:
        'Aggregates (count, mean, min, max, first, last, stddev) per time bucket for one or more signals; bucketMs defaults to range/points',
      query: z.strictObject({
        signals: pathList,
        ...rangeFields,
        bucketMs: z.coerce.number().int().min(1).optional(),
        points: z.coerce.number().int().min(1).max(10_000).default(600),
      }),
      handler: async ({ query }) => {
        const signals = knownSignals(query.signals);
        const range = resolveRange(query, clock.now());
        const bucketMs = bucketFor(range.fromMs, range.toMs, query.bucketMs, query.points);
        return { ...range, bucketMs, rows: await historian.queryBuckets(signals, range, bucketMs) };
      },
    }),
    route({
      method: 'GET',
      url: '/api/history/last',
      response: lastSchema,
      role: 'viewer',
      tag: 'history',
      summary: 'The latest stored sample of each signal',
      query: z.strictObject({ signals: pathList.optional() }),
      handler: async ({ query }) =>
        historian.lastValues(query.signals === undefined ? undefined : knownSignals(query.signals)),
    }),
    route({
      method: 'GET',
      url: '/api/history/states',
      response: eventsSchema,
      role: 'viewer',
      tag: 'history',
      summary: 'State timeline of a station (or every station below a path) in a range',
      query: z.strictObject({
        path: z.string().min(1),
        ...rangeFields,
        limit: z.coerce.number().int().positive().max(100_000).default(10_000),
      }),
      handler: async ({ query }) => {
        model.requireAsset(query.path);
        const range = resolveRange(query, clock.now(), 8 * 3_600_000);
        const events = await historian.queryEvents({
          ...range,
          kind: 'state',
          sourcePrefix: query.path,
          limit: query.limit,
        });
        return { ...range, events };
      },
    }),
    route({
      method: 'GET',
      url: '/api/history/events',
      response: eventsSchema,
      role: 'viewer',
      tag: 'history',
      summary: 'Historian events (state, alarm, audit, order, system) in a range, optionally below a path',
      query: z.strictObject({
        kind: z.enum(EVENT_KINDS).optional(),
        source: z.string().min(1).optional(),
        ...rangeFields,
        limit: z.coerce.number().int().positive().max(100_000).default(1000),
      }),
      handler: async ({ query }) => {
        const range = resolveRange(query, clock.now(), 24 * 3_600_000);
        const q: Parameters<typeof historian.queryEvents>[0] = { ...range, limit: query.limit };
        if (query.kind !== undefined) q.kind = query.kind;
        if (query.source !== undefined) q.sourcePrefix = query.source;
        return { ...range, events: await historian.queryEvents(q) };
      },
    }),
    route({
      method: 'GET',
      url: '/api/history/export.csv',
      role: 'viewer',
      tag: 'history',
      produces: 'text/csv',
      summary: 'Bucketed history of signals as CSV (time in ISO 8601 UTC, one column per signal: mean)',
      query: z.strictObject({
        signals: pathList,
        ...rangeFields,
        bucketMs: z.coerce.number().int().min(1).optional(),
        points: z.coerce.number().int().min(1).max(100_000).default(1000),
      }),
      handler: async ({ query, reply }) => {
        const signals = knownSignals(query.signals);
        const range = resolveRange(query, clock.now());
        const bucketMs = bucketFor(range.fromMs, range.toMs, query.bucketMs, query.points);
        const rows = await historian.queryBuckets(signals, range, bucketMs);
        const byTime = new Map<number, Map<string, number>>();
        for (const r of rows) {
          let m = byTime.get(r.bucketMs);
          if (m === undefined) {
            m = new Map();
            byTime.set(r.bucketMs, m);
          }
          m.set(r.signal, r.mean);
        }
        const header = [
          'time',
          ...signals.map((s) => {
            const unit = model.signal(s)?.def.unit;
            return unit === undefined ? s : `${s} [${unit}]`;
          }),
        ];
        const lines = [header.map(csvCell).join(',')];
        for (const t of [...byTime.keys()].sort((a, b) => a - b)) {
          const m = byTime.get(t) as Map<string, number>;
          lines.push(
            [new Date(t).toISOString(), ...signals.map((s) => m.get(s) ?? '')].map(csvCell).join(','),
          );
        }
        reply.header('content-type', 'text/csv; charset=utf-8');
        reply.header('content-disposition', 'attachment; filename="gemba-history.csv"');
        return `${lines.join('\n')}\n`;
      },
    }),
  ];
}

function csvCell(v: string | number): string {
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}
