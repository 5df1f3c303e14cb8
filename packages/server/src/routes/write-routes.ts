import { GembaError } from '@gemba/core';
import { z } from 'zod';
import { notAvailable, notFound } from '../http-error.ts';
import { alarmSchema, eventsSchema, simJobSchema } from '../response-schemas.ts';
import { type RouteSpec, route } from '../route-spec.ts';
import type { ProductionOrder } from '../runtime/runtime.ts';
import { webhookSchema } from '../webhooks.ts';
import { type ApiContext, resolveRange, timeParam } from './context.ts';

const idParams = z.strictObject({ id: z.string().min(1) });

const whatIfSchema = z.strictObject({
  line: z.string().min(1),
  scenarios: z
    .array(
      z.strictObject({
        name: z.string().min(1).max(100),
        changes: z
          .array(
            z.strictObject({
              target: z.string().min(1),
              parameter: z.enum([
                'cycleTimeFactor',
                'bufferCapacity',
                'mtbfFactor',
                'mttrFactor',
                'setpoint',
              ]),
              value: z.number().finite(),
            }),
          )
          .max(50),
      }),
    )
    .min(1)
    .max(10),
  horizonH: z
    .number()
    .positive()
    .max(24 * 366)
    .default(8),
  replications: z.number().int().min(2).max(200).default(10),
});

const orderSchema = z.strictObject({
  id: z.string().min(1),
  product: z.string().min(1),
  line: z.string().min(1),
  quantity: z.number().int().positive(),
  plannedStart: z.iso.datetime({ offset: true }).optional(),
  due: z.iso.datetime({ offset: true }).optional(),
  status: z.enum(['planned', 'running', 'done', 'cancelled']).default('planned'),
});

/** Routes that change things: alarms, setpoints, what-if jobs, orders, webhooks; and the audit log. */
export function writeRoutes(ctx: ApiContext): RouteSpec[] {
  const { runtime, audit, orders, webhooks } = ctx;
  const { model, clock } = runtime;

  const checkOrders = (list: ProductionOrder[], where: string): void => {
    list.forEach((o, i) => {
      if (model.line(o.line) === undefined) {
        throw new GembaError(
          'GEMBA_API_INVALID_INPUT',
          `${where}[${i}]: line '${o.line}' is not in the model`,
        );
      }
      if (!model.products.some((p) => p.id === o.product)) {
        throw new GembaError(
          'GEMBA_API_INVALID_INPUT',
          `${where}[${i}]: product '${o.product}' is not in the model`,
        );
      }
    });
  };
  const storeOrders = async (
    list: ProductionOrder[],
    actor: Parameters<typeof audit.record>[0],
    via: string,
  ) => {
    const prev = orders.upsert(list);
    for (let i = 0; i < list.length; i++) {
      const o = list[i] as ProductionOrder;
      await audit.record(actor, 'order.upsert', o.id, prev[i] ?? null, o, { via });
    }
    await runtime.historian.appendEvents(
      list.map((o) => ({
        id: `order:${o.id}:${clock.now()}`,
        kind: 'order' as const,
        source: o.line,
        ts: clock.now(),
        data: { ...o },
      })),
    );
    return { accepted: list.length, orders: orders.list() };
  };

  return [
    route({
      method: 'GET',
      url: '/api/alarms',
      response: z.array(alarmSchema),
      role: 'viewer',
      tag: 'alarms',
      summary: 'Current alarms (active, and cleared but unacknowledged) by priority, then time',
      query: z.strictObject({ includeShelved: z.enum(['true', 'false']).default('true') }),
      handler: ({ query }) => {
        if (runtime.alarms === undefined) throw notAvailable('alarms (the engine)');
        const now = clock.now();
        const order = ['urgent', 'high', 'medium', 'low'];
        return runtime.alarms
          .list()
          .filter((a) => query.includeShelved === 'true' || (a.shelvedUntil ?? 0) <= now)
          .sort((a, b) => order.indexOf(a.priority) - order.indexOf(b.priority) || b.raisedAt - a.raisedAt);
      },
    }),
    route({
      method: 'GET',
      url: '/api/alarms/journal',
      response: eventsSchema,
      role: 'viewer',
      tag: 'alarms',
      summary: 'The alarm journal: transitions and notification deliveries in a range',
      query: z.strictObject({
        source: z.string().min(1).optional(),
        from: timeParam.optional(),
        to: timeParam.optional(),
        limit: z.coerce.number().int().positive().max(100_000).default(1000),
      }),
      handler: async ({ query }) => {
        const range = resolveRange(query, clock.now() + 1, 24 * 3_600_000);
        const q: Parameters<typeof runtime.historian.queryEvents>[0] = {
          ...range,
          kind: 'alarm',
          limit: query.limit,
        };
        if (query.source !== undefined) q.sourcePrefix = query.source;
        return { ...range, events: await runtime.historian.queryEvents(q) };
      },
    }),
    route({
      method: 'POST',
      url: '/api/alarms/:id/ack',
      response: alarmSchema,
      role: 'operator',
      tag: 'alarms',
      summary: 'Acknowledge an alarm (operator)',
      params: idParams,
      body: z.strictObject({ comment: z.string().max(1000).optional() }),
      handler: async ({ actor, params, body }) => {
        if (runtime.alarms === undefined) throw notAvailable('alarms (the engine)');
        const before = runtime.alarms.list().find((a) => a.id === params.id);
        if (before === undefined) throw notFound(`alarm '${params.id}'`);
        const after = runtime.alarms.acknowledge(params.id, actor, body.comment);
        await audit.record(
          actor,
          'alarm.ack',
          params.id,
          { acknowledged: before.acknowledged },
          { acknowledged: after.acknowledged },
          body.comment === undefined ? undefined : { comment: body.comment },
        );
        return after;
      },
    }),
    route({
      method: 'POST',
      url: '/api/alarms/:id/shelve',
      response: alarmSchema,
      role: 'operator',
      tag: 'alarms',
      summary: 'Shelve an alarm for a while, with a reason (operator)',
      params: idParams,
      body: z.strictObject({
        durationMin: z
          .number()
          .positive()
          .max(7 * 24 * 60),
        reason: z.string().min(1).max(1000),
      }),
      handler: async ({ actor, params, body }) => {
        if (runtime.alarms === undefined) throw notAvailable('alarms (the engine)');
        const before = runtime.alarms.list().find((a) => a.id === params.id);
        if (before === undefined) throw notFound(`alarm '${params.id}'`);
        const until = clock.now() + body.durationMin * 60_000;
        const after = runtime.alarms.shelve(params.id, actor, until, body.reason);
        await audit.record(
          actor,
          'alarm.shelve',
          params.id,
          { shelvedUntil: before.shelvedUntil ?? null },
          { shelvedUntil: after.shelvedUntil ?? until },
          { reason: body.reason },
        );
        return after;
      },
    }),
    route({
      method: 'POST',
      url: '/api/setpoints',
      role: 'engineer',
      tag: 'equipment',
      summary: 'Write a setpoint to equipment (engineer); the old and new value go to the audit log',
      body: z.strictObject({ path: z.string().min(1), value: z.union([z.number().finite(), z.boolean()]) }),
      handler: async ({ actor, body }) => {
        const sig = model.requireSignal(body.path);
        if (!sig.def.writable) {
          throw new GembaError('GEMBA_API_INVALID_INPUT', `signal '${body.path}' is not writable`);
        }
        const { min, max } = sig.def.range ?? {};
        if (
          typeof body.value === 'number' &&
          ((min !== undefined && body.value < min) || (max !== undefined && body.value > max))
        ) {
          throw new GembaError(
            'GEMBA_API_INVALID_INPUT',
            `${body.value} ${sig.def.unit ?? ''} is outside the range [${min ?? '-∞'}, ${max ?? '∞'}] of '${body.path}'`,
          );
        }
        if (runtime.writer === undefined) throw notAvailable('setpoint writes (no connectors)');
        const current = runtime.twin.snapshot(body.path).find((e) => e.kind === 'value');
        const oldValue = current?.kind === 'value' ? current.value : null;
        await runtime.writer.write(body.path, body.value);
        await audit.record(actor, 'setpoint.write', body.path, oldValue, body.value, { unit: sig.def.unit });
        return { path: body.path, oldValue, newValue: body.value, unit: sig.def.unit };
      },
    }),
    route({
      method: 'GET',
      url: '/api/sim/jobs',
      response: z.array(simJobSchema),
      role: 'viewer',
      tag: 'simulation',
      summary: 'What-if simulation jobs',
      handler: () => {
        if (runtime.sim === undefined) throw notAvailable('simulation');
        return runtime.sim.list();
      },
    }),
    route({
      method: 'POST',
      url: '/api/sim/jobs',
      response: simJobSchema,
      role: 'engineer',
      tag: 'simulation',
      summary: 'Start a what-if run: scenarios of changes compared with the calibrated baseline (engineer)',
      body: whatIfSchema,
      handler: async ({ actor, body }) => {
        if (model.line(body.line) === undefined) {
          throw new GembaError(
            'GEMBA_API_INVALID_INPUT',
            `body.line: '${body.line}' is not a line of the model`,
          );
        }
        if (runtime.sim === undefined) throw notAvailable('simulation');
        const job = runtime.sim.start(body, actor);
        await audit.record(actor, 'sim.start', body.line, null, body, { job: job.id });
        return job;
      },
    }),
    route({
      method: 'GET',
      url: '/api/sim/jobs/:id',
      response: simJobSchema,
      role: 'viewer',
      tag: 'simulation',
      summary: "A what-if job's progress and result",
      params: idParams,
      handler: ({ params }) => {
        if (runtime.sim === undefined) throw notAvailable('simulation');
        const job = runtime.sim.get(params.id);
        if (job === undefined) throw notFound(`simulation job '${params.id}'`);
        return job;
      },
    }),
    route({
      method: 'DELETE',
      url: '/api/sim/jobs/:id',
      role: 'engineer',
      tag: 'simulation',
      summary: 'Cancel a what-if job (engineer)',
      params: idParams,
      handler: async ({ actor, params }) => {
        if (runtime.sim === undefined) throw notAvailable('simulation');
        const before = runtime.sim.get(params.id);
        if (before === undefined) throw notFound(`simulation job '${params.id}'`);
        const prevStatus = before.status;
        const job = runtime.sim.cancel(params.id);
        await audit.record(actor, 'sim.cancel', params.id, prevStatus, job?.status ?? null);
        return job;
      },
    }),
    route({
      method: 'GET',
      url: '/api/orders',
      role: 'viewer',
      tag: 'orders',
      summary: 'Production orders (the schedule) and the running order per line',
      handler: () => ({
        orders: orders.list(),
        running: Object.fromEntries(model.lines.map((l) => [l.path, orders.current(l.path)?.id ?? null])),
      }),
    }),
    route({
      method: 'POST',
      url: '/api/orders',
      role: 'engineer',
      tag: 'orders',
      summary: 'Push production orders from an MES (insert or replace by id; engineer)',
      body: z.strictObject({ orders: z.array(orderSchema).min(1).max(10_000) }),
      handler: ({ actor, body }) => {
        const list = body.orders as ProductionOrder[];
        checkOrders(list, 'body.orders');
        return storeOrders(list, actor, 'api');
      },
    }),
    route({
      method: 'POST',
      url: '/api/orders/import',
      role: 'engineer',
      tag: 'orders',
      bodyContentType: 'text/csv',
      summary:
        'Import production orders from CSV with a header row: id,product,line,quantity[,plannedStart,due,status] (engineer)',
      handler: ({ actor, body }) => {
        const list = parseOrdersCsv(typeof body === 'string' ? body : '');
        checkOrders(list, 'csv');
        return storeOrders(list, actor, 'csv');
      },
    }),
    route({
      method: 'GET',
      url: '/api/audit',
      response: eventsSchema,
      role: 'engineer',
      tag: 'audit',
      summary:
        'The audit log: every write through the API with who, what, when, old and new value (engineer)',
      query: z.strictObject({
        from: timeParam.optional(),
        to: timeParam.optional(),
        limit: z.coerce.number().int().positive().max(100_000).default(1000),
      }),
      handler: async ({ query }) => {
        const range = resolveRange(query, clock.now() + 1, 24 * 3_600_000);
        return {
          ...range,
          events: await runtime.historian.queryEvents({ ...range, kind: 'audit', limit: query.limit }),
        };
      },
    }),
    route({
      method: 'GET',
      url: '/api/webhooks',
      role: 'admin',
      tag: 'alarms',
      summary: 'Alarm notification webhooks (admin)',
      handler: () => webhooks.list(),
    }),
    route({
      method: 'POST',
      url: '/api/webhooks',
      role: 'admin',
      tag: 'alarms',
      summary: 'Add or replace an alarm notification webhook, filtered by area and priority (admin)',
      body: webhookSchema,
      handler: async ({ actor, body }) => {
        const prev = webhooks.list().find((w) => w.id === body.id);
        const hook = webhooks.add(body);
        await audit.record(actor, 'webhook.upsert', hook.id, prev ?? null, hook);
        return hook;
      },
    }),
    route({
      method: 'DELETE',
      url: '/api/webhooks/:id',
      role: 'admin',
      tag: 'alarms',
      summary: 'Remove a webhook (admin)',
      params: idParams,
      handler: async ({ actor, params }) => {
        const prev = webhooks.remove(params.id);
        if (prev === undefined) throw notFound(`webhook '${params.id}'`);
        await audit.record(actor, 'webhook.delete', params.id, prev, null);
        return prev;
      },
    }),
  ];
}

/**
 * Parses production orders from CSV (header row naming the columns).
 * @throws GembaError GEMBA_API_INVALID_INPUT naming the line and column.
 */
export function parseOrdersCsv(text: string): ProductionOrder[] {
  const rows = text
    .split(/\r?\n/)
    .map((l, i) => ({ line: i + 1, cells: l.split(',').map((c) => c.trim().replace(/^"(.*)"$/, '$1')) }))
    .filter((r) => r.cells.some((c) => c.length > 0));
  const header = rows.shift();
  if (header === undefined) throw new GembaError('GEMBA_API_INVALID_INPUT', 'csv: empty');
  for (const col of ['id', 'product', 'line', 'quantity']) {
    if (!header.cells.includes(col)) {
      throw new GembaError('GEMBA_API_INVALID_INPUT', `csv:1: the header has no column '${col}'`);
    }
  }
  return rows.map((r) => {
    const obj: Record<string, unknown> = {};
    header.cells.forEach((col, i) => {
      const v = r.cells[i];
      if (v !== undefined && v !== '') obj[col] = col === 'quantity' ? Number(v) : v;
    });
    const parsed = orderSchema.safeParse(obj);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new GembaError(
        'GEMBA_API_INVALID_INPUT',
        `csv:${r.line}: column '${String(issue?.path[0] ?? '?')}': ${issue?.message ?? 'invalid'}`,
      );
    }
    return parsed.data as ProductionOrder;
  });
}
