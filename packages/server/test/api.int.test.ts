import { SampleBatch } from '@gemba/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLES } from '../src/index.ts';
import { as, startPlatform, type TestPlatform, TOKENS } from './fixtures.ts';

interface Op {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  role: string;
  hasBody: boolean;
  bodyType?: string;
}

describe('REST API', () => {
  let p: TestPlatform;
  let ops: Op[];
  const written: { path: string; value: number | boolean }[] = [];

  beforeAll(async () => {
    p = await startPlatform({
      // The "equipment" accepts a write and reports the new value, as a PLC would.
      writer: {
        async write(path, value) {
          written.push({ path, value });
          await p.bus.publish(
            'gemba.samples.acme.plant1',
            SampleBatch.fromSamples([{ signal: path, ts: Date.now(), value, quality: 'good' }]),
          );
        },
      },
    });
    const res = await p.app.inject({ method: 'GET', url: '/api/openapi.json', headers: as('viewer') });
    expect(res.statusCode).toBe(200);
    const doc = res.json() as { paths: Record<string, Record<string, Record<string, unknown>>> };
    ops = [];
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const role = op['x-gemba-role'];
        if (typeof role !== 'string') continue;
        const content = (op.requestBody as { content?: Record<string, unknown> } | undefined)?.content;
        const o: Op = {
          method: method.toUpperCase() as Op['method'],
          url: path.replace(/\{[^}]+\}/g, 'x'),
          role,
          hasBody: content !== undefined,
        };
        if (content !== undefined) o.bodyType = Object.keys(content)[0] as string;
        ops.push(o);
      }
    }
  });
  afterAll(async () => {
    await p?.close();
  });

  it('documents responses with their schemas', async () => {
    const doc = (
      await p.app.inject({ method: 'GET', url: '/api/openapi.json', headers: as('viewer') })
    ).json();
    const twin = doc.paths['/api/twin'].get.responses['200'].content['application/json'].schema;
    expect(Object.keys(twin.properties)).toEqual(['seq', 'epoch', 'now', 'entries']);
    const job = doc.paths['/api/sim/jobs/{id}'].get;
    expect(job.parameters).toEqual([expect.objectContaining({ name: 'id', in: 'path', required: true })]);
    expect(doc.paths['/api/setpoints'].post.requestBody.content['application/json'].schema.required).toEqual([
      'path',
      'value',
    ]);
  });

  it('describes every route in the OpenAPI document', () => {
    expect(ops.length).toBeGreaterThanOrEqual(25);
    const urls = ops.map((o) => `${o.method} ${o.url}`);
    for (const u of [
      'GET /api/model',
      'GET /api/twin',
      'POST /api/alarms/x/ack',
      'POST /api/setpoints',
      'POST /api/sim/jobs',
      'GET /metrics',
    ]) {
      expect(urls).toContain(u);
    }
  });

  it('rejects every route without a token, with an unknown token, and with a too-small role', async () => {
    for (const op of ops) {
      const missing = await p.app.inject({ method: op.method, url: op.url });
      expect(missing.statusCode, `${op.method} ${op.url}`).toBe(401);
      expect(missing.json().error.code).toBe('GEMBA_API_UNAUTHORIZED');
      const bad = await p.app.inject({
        method: op.method,
        url: op.url,
        headers: { authorization: 'Bearer nope' },
      });
      expect(bad.statusCode).toBe(401);
      expect(bad.json().error.code).toBe('GEMBA_API_UNAUTHORIZED');
      const basic = await p.app.inject({
        method: op.method,
        url: op.url,
        headers: { authorization: `Basic ${TOKENS.admin.token}` },
      });
      expect(basic.statusCode).toBe(401);
      const below = ROLES.indexOf(op.role as (typeof ROLES)[number]) - 1;
      if (below >= 0) {
        const role = ROLES[below] as keyof typeof TOKENS;
        const res = await p.app.inject({ method: op.method, url: op.url, headers: as(role) });
        expect(res.statusCode, `${op.method} ${op.url} as ${role}`).toBe(403);
        expect(res.json().error.code).toBe('GEMBA_API_FORBIDDEN');
      }
    }
  });

  it('answers malformed bodies with 400 and the error code', async () => {
    const withJson = ops.filter((o) => o.bodyType === 'application/json');
    expect(withJson.length).toBeGreaterThanOrEqual(6);
    for (const op of withJson) {
      const res = await p.app.inject({
        method: op.method,
        url: op.url,
        headers: as('admin'),
        payload: { bogus: [1] },
      });
      expect(res.statusCode, `${op.method} ${op.url}`).toBe(400);
      expect(res.json().error.code).toBe('GEMBA_API_INVALID_INPUT');
      const notJson = await p.app.inject({
        method: op.method,
        url: op.url,
        headers: { ...as('admin'), 'content-type': 'application/json' },
        payload: '{"unterminated',
      });
      expect(notJson.statusCode).toBe(400);
      expect(notJson.json().error.code).toBe('GEMBA_API_INVALID_INPUT');
    }
    const csv = await p.app.inject({
      method: 'POST',
      url: '/api/orders/import',
      headers: { ...as('admin'), 'content-type': 'text/csv' },
      payload: 'id,product,line\nPO-1,widget-a,acme/plant1/assembly/line1\n',
    });
    expect(csv.statusCode).toBe(400);
    expect(csv.json().error.message).toContain("no column 'quantity'");
  });

  it('rejects bad query parameters with 400', async () => {
    const res = await p.app.inject({
      method: 'GET',
      url: '/api/history/raw?signal=acme/x&limit=-3',
      headers: as('viewer'),
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('GEMBA_API_INVALID_INPUT');
    expect(res.json().error.message).toContain('query.limit');
    // An accelerated clock's times carry fractions of a millisecond: accepted, floored.
    const fractional = await p.app.inject({
      method: 'GET',
      url: `/api/history/raw?signal=acme/plant1/assembly/line1/press/vibration&from=1000.25&to=${Date.now() + 0.5}`,
      headers: as('viewer'),
    });
    expect(fractional.statusCode).toBe(200);
    expect(fractional.json().fromMs).toBe(1000);
    const unknown = await p.app.inject({
      method: 'GET',
      url: '/api/history/raw?signal=acme/nope',
      headers: as('viewer'),
    });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('GEMBA_MODEL_UNKNOWN_SIGNAL');
    const route = await p.app.inject({ method: 'GET', url: '/api/nothing-here', headers: as('viewer') });
    expect(route.statusCode).toBe(404);
    expect(route.json().error.code).toBe('GEMBA_API_NOT_FOUND');
  });

  it('serves the model, the twin and history', async () => {
    const model = (await p.app.inject({ method: 'GET', url: '/api/model', headers: as('viewer') })).json();
    expect(model.timezone).toBe('Europe/Berlin');
    expect(model.lines[0].stations.map((s: { id: string }) => s.id)).toEqual([
      'press',
      'weld',
      'oven',
      'assembly',
      'test',
      'pack',
    ]);
    const sig = 'acme/plant1/assembly/line1/oven/zone2/temperature';
    const t0 = Date.now() - 10_000;
    const batch = SampleBatch.fromSamples(
      Array.from({ length: 10 }, (_, i) => ({
        signal: sig,
        ts: t0 + i * 1000,
        value: 180 + i,
        quality: 'good' as const,
      })),
    );
    p.twin.ingest(batch);
    await p.historian.append(batch);
    const twin = (
      await p.app.inject({
        method: 'GET',
        url: `/api/twin?pattern=${encodeURIComponent('acme/plant1/+/line1/oven/#')}`,
        headers: as('viewer'),
      })
    ).json();
    expect(twin.entries.find((e: { path: string }) => e.path === sig).value).toBe(189);
    const raw = (
      await p.app.inject({
        method: 'GET',
        url: `/api/history/raw?signal=${sig}&from=${t0}&to=${t0 + 10_000}`,
        headers: as('viewer'),
      })
    ).json();
    expect(raw.samples).toHaveLength(10);
    const buckets = (
      await p.app.inject({
        method: 'GET',
        url: `/api/history/buckets?signals=${sig}&from=${t0}&to=${t0 + 10_000}&bucketMs=5000`,
        headers: as('viewer'),
      })
    ).json();
    expect(
      buckets.rows.map((r: { count: number }) => r.count).reduce((a: number, b: number) => a + b, 0),
    ).toBe(10);
    const csv = await p.app.inject({
      method: 'GET',
      url: `/api/history/export.csv?signals=${sig}&from=${t0}&to=${t0 + 10_000}&bucketMs=5000`,
      headers: as('viewer'),
    });
    expect(csv.headers['content-type']).toContain('text/csv');
    expect(csv.body.split('\n')[0]).toBe(`time,${sig} [°C]`);
    const badPattern = await p.app.inject({
      method: 'GET',
      url: '/api/twin?pattern=a/%23/b',
      headers: as('viewer'),
    });
    expect(badPattern.statusCode).toBe(400);
  });

  it('answers 501 for a feature the platform runs without', async () => {
    const res = await p.app.inject({ method: 'GET', url: '/api/alarms', headers: as('viewer') });
    expect(res.statusCode).toBe(501);
    expect(res.json().error.code).toBe('GEMBA_API_NOT_AVAILABLE');
  });

  it('records every write in the audit log with who, what, old and new value', async () => {
    const path = 'acme/plant1/assembly/line1/oven/zone2/setpoint';
    p.twin.ingest(
      SampleBatch.fromSamples([{ signal: path, ts: Date.now() - 1, value: 180, quality: 'good' }]),
    );
    const viewer = await p.app.inject({
      method: 'POST',
      url: '/api/setpoints',
      headers: as('operator'),
      payload: { path, value: 175 },
    });
    expect(viewer.statusCode).toBe(403);
    const outOfRange = await p.app.inject({
      method: 'POST',
      url: '/api/setpoints',
      headers: as('engineer'),
      payload: { path, value: 999 },
    });
    expect(outOfRange.statusCode).toBe(400);
    const notWritable = await p.app.inject({
      method: 'POST',
      url: '/api/setpoints',
      headers: as('engineer'),
      payload: { path: 'acme/plant1/assembly/line1/oven/zone2/temperature', value: 1 },
    });
    expect(notWritable.statusCode).toBe(400);
    const ok = await p.app.inject({
      method: 'POST',
      url: '/api/setpoints',
      headers: as('engineer'),
      payload: { path, value: 175 },
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ path, oldValue: 180, newValue: 175, unit: '°C' });
    expect(written).toEqual([{ path, value: 175 }]);

    const order = { id: 'PO-2001', product: 'widget-a', line: 'acme/plant1/assembly/line1', quantity: 100 };
    const pushed = await p.app.inject({
      method: 'POST',
      url: '/api/orders',
      headers: as('engineer'),
      payload: { orders: [order] },
    });
    expect(pushed.statusCode).toBe(200);
    const imported = await p.app.inject({
      method: 'POST',
      url: '/api/orders/import',
      headers: { ...as('engineer'), 'content-type': 'text/csv' },
      payload: 'id,product,line,quantity,status\nPO-2001,widget-a,acme/plant1/assembly/line1,120,running\n',
    });
    expect(imported.statusCode).toBe(200);
    const orders = (await p.app.inject({ method: 'GET', url: '/api/orders', headers: as('viewer') })).json();
    expect(orders.running['acme/plant1/assembly/line1']).toBe('PO-2001');

    const log = (await p.app.inject({ method: 'GET', url: '/api/audit', headers: as('engineer') })).json();
    const events = log.events as { source: string; data: Record<string, unknown> }[];
    const sp = events.find((e) => e.data.action === 'setpoint.write');
    expect(sp).toMatchObject({
      source: path,
      data: { who: 'erin-engineer', role: 'engineer', oldValue: 180, newValue: 175 },
    });
    const orderWrites = events.filter((e) => e.data.action === 'order.upsert');
    expect(orderWrites).toHaveLength(2);
    expect(orderWrites[0]?.data.oldValue).toBeNull();
    expect(orderWrites[1]?.data.oldValue).toMatchObject({ quantity: 100 });
    expect(orderWrites[1]?.data.newValue).toMatchObject({ quantity: 120, status: 'running' });
    // Rejected writes leave no record.
    expect(events.filter((e) => e.data.action === 'setpoint.write')).toHaveLength(1);
  });

  it('serves Prometheus metrics', async () => {
    const res = await p.app.inject({ method: 'GET', url: '/metrics', headers: as('viewer') });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('gemba_api_requests_total');
    expect(res.body).toContain('gemba_live_clients');
    expect(res.body).toContain('gemba_samples_in_total');
  });
});
