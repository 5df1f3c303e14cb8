import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { SampleBatch } from '@gemba/core';
import { afterEach, describe, expect, it } from 'vitest';
import { as, type EnginePlatform, startEnginePlatform } from './fixtures.ts';

const L = 'acme/plant1/assembly/line1';

function breakPress(p: EnginePlatform): void {
  const t = Date.now();
  p.engine.ingest(
    SampleBatch.fromSamples([
      { signal: `${L}/press/state`, ts: t - 5000, value: 6, quality: 'good' },
      { signal: `${L}/press/fault_code`, ts: t - 5000, value: 0, quality: 'good' },
    ]),
  );
  p.engine.ingest(
    SampleBatch.fromSamples([
      { signal: `${L}/press/state`, ts: t, value: 9, quality: 'good' },
      { signal: `${L}/press/fault_code`, ts: t, value: 12, quality: 'good' },
    ]),
  );
}

/** A webhook receiver that fails the first `failures` requests with 503. */
async function receiver(
  failures: number,
): Promise<{ url: string; bodies: unknown[]; server: Server; hits: () => number }> {
  const bodies: unknown[] = [];
  let hits = 0;
  const server = createHttpServer((req: IncomingMessage, res) => {
    let data = '';
    req.on('data', (c: Buffer) => {
      data += c.toString();
    });
    req.on('end', () => {
      hits++;
      if (hits <= failures) {
        res.statusCode = 503;
        res.end();
        return;
      }
      bodies.push(JSON.parse(data));
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no address');
  return { url: `http://127.0.0.1:${addr.port}/hook`, bodies, server, hits: () => hits };
}

describe('alarms through the engine', () => {
  let p: EnginePlatform | undefined;
  let hook: Awaited<ReturnType<typeof receiver>> | undefined;
  afterEach(async () => {
    await p?.close();
    p = undefined;
    await new Promise((r) => hook?.server.close(r) ?? r(undefined));
    hook = undefined;
  });

  it('lists an alarm; a viewer cannot acknowledge it, an operator can; the audit log and journal record it', async () => {
    p = await startEnginePlatform();
    breakPress(p);
    const list = (await p.app.inject({ method: 'GET', url: '/api/alarms', headers: as('viewer') })).json();
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({
      source: `${L}/press`,
      priority: 'high',
      active: true,
      acknowledged: false,
    });
    const id = encodeURIComponent(list[0].id);

    const viewer = await p.app.inject({
      method: 'POST',
      url: `/api/alarms/${id}/ack`,
      headers: as('viewer'),
      payload: {},
    });
    expect(viewer.statusCode).toBe(403);
    expect(viewer.json().error.code).toBe('GEMBA_API_FORBIDDEN');

    const ok = await p.app.inject({
      method: 'POST',
      url: `/api/alarms/${id}/ack`,
      headers: as('operator'),
      payload: { comment: 'on it' },
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ acknowledged: true, ackedBy: 'otto-operator' });

    const again = await p.app.inject({
      method: 'POST',
      url: `/api/alarms/${id}/ack`,
      headers: as('operator'),
      payload: {},
    });
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('GEMBA_API_CONFLICT');
    const unknown = await p.app.inject({
      method: 'POST',
      url: '/api/alarms/nope/ack',
      headers: as('operator'),
      payload: {},
    });
    expect(unknown.statusCode).toBe(404);

    const shelve = await p.app.inject({
      method: 'POST',
      url: `/api/alarms/${id}/shelve`,
      headers: as('operator'),
      payload: { durationMin: 30, reason: 'maintenance called' },
    });
    expect(shelve.statusCode).toBe(200);
    expect(shelve.json().shelvedUntil).toBeGreaterThan(Date.now() + 29 * 60_000);

    const audit = (await p.app.inject({ method: 'GET', url: '/api/audit', headers: as('engineer') })).json();
    const ack = audit.events.find((e: { data: { action: string } }) => e.data.action === 'alarm.ack');
    expect(ack).toMatchObject({
      source: list[0].id,
      data: {
        who: 'otto-operator',
        oldValue: { acknowledged: false },
        newValue: { acknowledged: true },
        details: { comment: 'on it' },
      },
    });
    expect(audit.events.some((e: { data: { action: string } }) => e.data.action === 'alarm.shelve')).toBe(
      true,
    );
  });

  it('notifies webhooks filtered by area and priority, retries with backoff, and journals the delivery', async () => {
    hook = await receiver(2);
    const other = await receiver(0);
    try {
      p = await startEnginePlatform({
        webhooks: [
          { id: 'maint', url: hook.url, areas: ['acme/plant1/assembly'], minPriority: 'high' },
          { id: 'elsewhere', url: other.url, areas: ['acme/plant1/paint'] },
          { id: 'urgent-only', url: other.url, minPriority: 'urgent' },
        ],
        webhookRetry: { maxAttempts: 4, backoffMs: 20 },
      });
      breakPress(p);
      const list = (await p.app.inject({ method: 'GET', url: '/api/alarms', headers: as('viewer') })).json();
      await p.app.inject({
        method: 'POST',
        url: `/api/alarms/${encodeURIComponent(list[0].id)}/ack`,
        headers: as('operator'),
        payload: {},
      });
      // Wait for the deliveries under way (bounded by maxAttempts × backoff).
      const deadline = Date.now() + 5000;
      while (hook.bodies.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(hook.bodies.map((b) => (b as { type: string }).type).sort()).toEqual([
        'alarm.ack',
        'alarm.raise',
      ]);
      expect(hook.hits()).toBe(4);
      expect(other.hits()).toBe(0);
      await new Promise((r) => setTimeout(r, 50));
      const journal = (
        await p.app.inject({ method: 'GET', url: '/api/alarms/journal', headers: as('viewer') })
      ).json();
      const deliveries = journal.events.filter(
        (e: { data: { type?: string } }) => e.data.type === 'notification',
      );
      expect(deliveries).toHaveLength(2);
      // Two 503s spread over the two concurrent deliveries: four attempts in all, both delivered.
      for (const d of deliveries)
        expect(d.data).toMatchObject({ webhook: 'maint', status: 'delivered', httpStatus: 200 });
      expect(
        deliveries.reduce((n: number, d: { data: { attempts: number } }) => n + d.data.attempts, 0),
      ).toBe(4);
    } finally {
      await new Promise((r) => other.server.close(r));
    }
  });

  it('gives up after the last attempt and journals the failure', async () => {
    hook = await receiver(100);
    p = await startEnginePlatform({
      webhooks: [{ id: 'down', url: hook.url }],
      webhookRetry: { maxAttempts: 3, backoffMs: 10 },
    });
    breakPress(p);
    const deadline = Date.now() + 5000;
    let failed: { data: Record<string, unknown> } | undefined;
    while (failed === undefined && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      const journal = (
        await p.app.inject({ method: 'GET', url: '/api/alarms/journal', headers: as('viewer') })
      ).json();
      failed = journal.events.find((e: { data: { type?: string } }) => e.data.type === 'notification');
    }
    expect(failed?.data).toMatchObject({ status: 'failed', attempts: 3, httpStatus: 503, error: 'HTTP 503' });
  });

  it('serves live KPIs, the bottleneck and KPI queries by window and shift', async () => {
    p = await startEnginePlatform();
    breakPress(p);
    const twin = (
      await p.app.inject({
        method: 'GET',
        url: `/api/twin?pattern=${encodeURIComponent(`${L}/#`)}`,
        headers: as('viewer'),
      })
    ).json();
    const kinds = new Set(twin.entries.map((e: { kind: string }) => e.kind));
    expect([...kinds].sort()).toEqual(['alarm', 'bottleneck', 'kpi', 'state', 'value']);
    expect(
      twin.entries.find((e: { kind: string; path: string }) => e.kind === 'state' && e.path === `${L}/press`)
        .state,
    ).toBe('down');
    const k = await p.app.inject({ method: 'GET', url: `/api/kpis?path=${L}`, headers: as('viewer') });
    expect(k.statusCode).toBe(200);
    expect(k.json()).toHaveProperty('oee');
    const shift = await p.app.inject({
      method: 'GET',
      url: `/api/kpis?path=${L}/press&shift=early&date=2026-01-05`,
      headers: as('viewer'),
    });
    expect(shift.statusCode).toBe(200);
    // The early shift ends at 14:00 Europe/Berlin, 13:00 UTC in winter. The engine started today
    // and observed none of that day: the KPI window starts at its first sample (here: is empty),
    // and there is no availability to report rather than a shift lost to downtime.
    expect(shift.json().toMs).toBe(Date.parse('2026-01-05T13:00:00Z'));
    expect(shift.json().fromMs).toBe(shift.json().toMs);
    expect(shift.json().availability).toBeNull();
    const badShift = await p.app.inject({
      method: 'GET',
      url: `/api/kpis?path=${L}&shift=lunch`,
      headers: as('viewer'),
    });
    expect(badShift.statusCode).toBe(404);
  });
});
