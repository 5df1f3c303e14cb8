import { GembaError, validatePattern } from '@gemba/core';
import { z } from 'zod';
import { notAvailable } from '../http-error.ts';
import { kpiSchema, twinSnapshotSchema } from '../response-schemas.ts';
import { type RouteSpec, route } from '../route-spec.ts';
import { type ApiContext, resolveRange, timeParam } from './context.ts';

/** Routes over the live twin and KPIs. */
export function twinRoutes(ctx: ApiContext): RouteSpec[] {
  const { runtime, hub } = ctx;
  return [
    route({
      method: 'GET',
      url: '/api/twin',
      response: twinSnapshotSchema,
      role: 'viewer',
      tag: 'twin',
      summary:
        'Snapshot of the live twin (values, station states, KPIs, bottlenecks, alarms) below a pattern, with the sequence number it reflects',
      query: z.strictObject({ pattern: z.string().min(1).default('#') }),
      handler: ({ query }) => {
        try {
          validatePattern(query.pattern);
        } catch (err: unknown) {
          throw new GembaError('GEMBA_API_INVALID_INPUT', `invalid pattern '${query.pattern}'`, {
            cause: err,
          });
        }
        return {
          seq: hub.seq,
          epoch: hub.epoch,
          now: runtime.clock.now(),
          entries: runtime.twin.snapshot(query.pattern),
        };
      },
    }),
    route({
      method: 'GET',
      url: '/api/kpis',
      response: kpiSchema,
      role: 'viewer',
      tag: 'kpis',
      summary:
        'KPIs (availability, performance, quality, OEE, throughput) of a station or line over a range or a shift',
      query: z.strictObject({
        path: z.string().min(1),
        from: timeParam.optional(),
        to: timeParam.optional(),
        shift: z.string().min(1).optional(),
        date: z.iso.date().optional(),
      }),
      handler: async ({ query }) => {
        if (runtime.kpis === undefined) throw notAvailable('KPIs (the engine)');
        runtime.model.requireAsset(query.path);
        const range =
          query.shift !== undefined
            ? shiftRange(ctx, query.shift, query.date)
            : resolveRange(query, runtime.clock.now(), 8 * 3_600_000);
        return runtime.kpis.kpis({ path: query.path, ...range });
      },
    }),
  ];
}

/** Offset of `timeZone` from UTC at `utcMs`, ms (positive east of Greenwich). */
function tzOffsetMs(timeZone: string, utcMs: number): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(utcMs);
  const get = (t: string): number => Number(parts.find((p) => p.type === t)?.value);
  const asUtc = Date.UTC(
    get('year'),
    get('month') - 1,
    get('day'),
    get('hour'),
    get('minute'),
    get('second'),
  );
  return asUtc - Math.floor(utcMs / 1000) * 1000;
}

/** The plant-local wall time `date` `hh:mm` in the model's time zone, as ms since epoch. */
function localToUtc(timeZone: string, date: string, hhmm: string): number {
  const guess = Date.parse(`${date}T${hhmm}:00Z`);
  const off = tzOffsetMs(timeZone, guess);
  return guess - tzOffsetMs(timeZone, guess - off);
}

/**
 * The range of shift `id` on plant-local `date` (default: the shift's most recent start).
 * @throws GembaError GEMBA_API_NOT_FOUND for an unknown shift.
 */
function shiftRange(ctx: ApiContext, id: string, date: string | undefined): { fromMs: number; toMs: number } {
  const { model, clock } = ctx.runtime;
  const shift = model.shifts.find((s) => s.id === id);
  if (shift === undefined) throw new GembaError('GEMBA_API_NOT_FOUND', `shift '${id}' is not in the model`);
  const now = clock.now();
  const day = date ?? new Date(now + tzOffsetMs(model.timezone, now)).toISOString().slice(0, 10);
  let fromMs = localToUtc(model.timezone, day, shift.start);
  if (date === undefined && fromMs > now) fromMs -= 86_400_000;
  let toMs = localToUtc(
    model.timezone,
    new Date(fromMs + tzOffsetMs(model.timezone, fromMs)).toISOString().slice(0, 10),
    shift.end,
  );
  if (toMs <= fromMs) toMs += 86_400_000;
  return { fromMs, toMs: Math.min(toMs, Math.max(now, fromMs + 1)) };
}
