// History routes beyond raw / buckets / CSV (last values, state timelines, events) and the
// webhook administration routes, against the real server over a memory historian.
import { SampleBatch } from '@gemba/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { as, startPlatform, type TestPlatform } from './fixtures.ts';

const L = 'acme/plant1/assembly/line1';

describe('history routes', () => {
  let p: TestPlatform;
  const t0 = Date.now() - 60_000;

  beforeAll(async () => {
    p = await startPlatform();
    await p.historian.append(
      SampleBatch.fromSamples([
        { signal: `${L}/oven/zone1/temperature`, ts: t0, value: 179, quality: 'good' },
        { signal: `${L}/oven/zone1/temperature`, ts: t0 + 1000, value: 181.5, quality: 'good' },
        { signal: `${L}/press/parts_total`, ts: t0 + 500, value: 41, quality: 'good' },
        { signal: `${L}/press/parts_total`, ts: t0 + 900, value: 42, quality: 'uncertain' },
      ]),
    );
    const state = (station: string, startMs: number, st: string, durationMs: number) => ({
      id: `${L}/${station}@${startMs}`,
      kind: 'state' as const,
      source: `${L}/${station}`,
      ts: startMs,
      data: { state: st, startMs, endMs: startMs + durationMs, durationMs },
    });
    await p.historian.appendEvents([
      state('press', t0, 'running', 10_000),
      state('press', t0 + 10_000, 'down', 5000),
      state('press', t0 + 15_000, 'running', 20_000),
      state('weld', t0 + 2000, 'starved', 3000),
      {
        id: 'alarm-1',
        kind: 'alarm',
        source: `${L}/press/vibration`,
        ts: t0 + 12_000,
        data: { action: 'raise', to: 'active-unacked' },
      },
      { id: 'sys-1', kind: 'system', source: 'gemba', ts: t0 + 13_000, data: { message: 'started' } },
    ]);
  });
  afterAll(async () => {
    await p?.close();
  });

  const get = async (url: string) => p.app.inject({ method: 'GET', url, headers: as('viewer') });

  it('GET /api/history/last: the latest stored sample per signal, all or the ones asked for', async () => {
    const one = await get(`/api/history/last?signals=${L}/press/parts_total`);
    expect(one.statusCode).toBe(200);
    expect(one.json()).toEqual([
      { signal: `${L}/press/parts_total`, ts: t0 + 900, value: 42, quality: 'uncertain' },
    ]);
    const all = (await get('/api/history/last')).json() as Array<{ signal: string; value: number }>;
    expect(Object.fromEntries(all.map((x) => [x.signal, x.value]))).toEqual({
      [`${L}/oven/zone1/temperature`]: 181.5,
      [`${L}/press/parts_total`]: 42,
    });
    const unknown = await get('/api/history/last?signals=acme/nowhere/x');
    expect(unknown.statusCode).toBe(404);
  });

  it('GET /api/history/states: the state timeline below a path, in a range, limited', async () => {
    const press = (await get(`/api/history/states?path=${L}/press&from=${t0}&to=${t0 + 60_000}`)).json();
    expect(press).toMatchObject({ fromMs: t0, toMs: t0 + 60_000 });
    expect(press.events.map((e: { data: { state: string } }) => e.data.state)).toEqual([
      'running',
      'down',
      'running',
    ]);
    expect(press.events[1]).toMatchObject({
      source: `${L}/press`,
      ts: t0 + 10_000,
      data: { durationMs: 5000 },
    });
    // The whole line: both stations, in time order; alarms and system events are not states.
    const line = (await get(`/api/history/states?path=${L}&from=${t0}&to=${t0 + 60_000}`)).json();
    expect(line.events.map((e: { source: string; ts: number }) => [e.source, e.ts - t0])).toEqual([
      [`${L}/press`, 0],
      [`${L}/weld`, 2000],
      [`${L}/press`, 10_000],
      [`${L}/press`, 15_000],
    ]);
    const later = (
      await get(`/api/history/states?path=${L}/press&from=${t0 + 1}&to=${t0 + 60_000}&limit=1`)
    ).json();
    expect(later.events.map((e: { ts: number }) => e.ts - t0)).toEqual([10_000]);
    expect((await get(`/api/history/states?path=${L}/nowhere`)).statusCode).toBe(404);
  });

  it('GET /api/history/events: by kind and source prefix', async () => {
    const range = `from=${t0}&to=${t0 + 60_000}`;
    const all = (await get(`/api/history/events?${range}`)).json();
    expect(all.events).toHaveLength(6);
    const alarms = (await get(`/api/history/events?${range}&kind=alarm`)).json();
    expect(alarms.events.map((e: { id: string }) => e.id)).toEqual(['alarm-1']);
    const belowPress = (await get(`/api/history/events?${range}&source=${L}/press`)).json();
    expect(belowPress.events.map((e: { kind: string }) => e.kind)).toEqual([
      'state',
      'state',
      'alarm',
      'state',
    ]);
    const system = (await get(`/api/history/events?${range}&kind=system&source=gemba`)).json();
    expect(system.events[0]).toMatchObject({ id: 'sys-1', data: { message: 'started' } });
    expect((await get(`/api/history/events?${range}&kind=nope`)).statusCode).toBe(400);
  });
});

describe('webhook administration', () => {
  let p: TestPlatform;
  beforeAll(async () => {
    p = await startPlatform();
  });
  afterAll(async () => {
    await p?.close();
  });

  it('lists, adds, replaces and removes webhooks (admin only), each write audited', async () => {
    const req = (
      method: 'GET' | 'POST' | 'DELETE',
      url: string,
      role: 'admin' | 'engineer',
      body?: unknown,
    ) =>
      p.app.inject({
        method,
        url,
        headers: { ...as(role), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
      });
    expect((await req('GET', '/api/webhooks', 'admin')).json()).toEqual([]);
    expect((await req('GET', '/api/webhooks', 'engineer')).statusCode).toBe(403);
    expect(
      (await req('POST', '/api/webhooks', 'engineer', { id: 'ops', url: 'http://127.0.0.1:9/x' })).statusCode,
    ).toBe(403);

    const added = await req('POST', '/api/webhooks', 'admin', {
      id: 'ops',
      url: 'http://127.0.0.1:9/hook',
      areas: ['acme/plant1/assembly'],
      minPriority: 'high',
    });
    expect(added.statusCode).toBe(200);
    // Defaults filled in: raise, ack and clear.
    expect(added.json()).toEqual({
      id: 'ops',
      url: 'http://127.0.0.1:9/hook',
      areas: ['acme/plant1/assembly'],
      minPriority: 'high',
      events: ['raise', 'ack', 'clear'],
    });
    const generated = (
      await req('POST', '/api/webhooks', 'admin', { url: 'https://example.invalid/h' })
    ).json();
    expect(generated.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(
      (await req('GET', '/api/webhooks', 'admin'))
        .json()
        .map((w: { id: string }) => w.id)
        .sort(),
    ).toEqual([generated.id, 'ops'].sort());

    // Same id: replaced, not added.
    const replaced = await req('POST', '/api/webhooks', 'admin', {
      id: 'ops',
      url: 'http://127.0.0.1:9/hook2',
      events: ['raise'],
    });
    expect(replaced.json()).toMatchObject({
      id: 'ops',
      url: 'http://127.0.0.1:9/hook2',
      events: ['raise'],
      areas: [],
    });
    expect((await req('GET', '/api/webhooks', 'admin')).json()).toHaveLength(2);

    const bad = await req('POST', '/api/webhooks', 'admin', { id: 'x', url: 'ftp://127.0.0.1/x' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('GEMBA_API_INVALID_INPUT');

    const removed = await req('DELETE', '/api/webhooks/ops', 'admin');
    expect(removed.statusCode).toBe(200);
    expect(removed.json()).toMatchObject({ id: 'ops', url: 'http://127.0.0.1:9/hook2' });
    expect((await req('DELETE', '/api/webhooks/ops', 'admin')).statusCode).toBe(404);
    expect((await req('GET', '/api/webhooks', 'admin')).json().map((w: { id: string }) => w.id)).toEqual([
      generated.id,
    ]);

    const audit = await p.historian.queryEvents({ fromMs: 0, toMs: Date.now() + 1, kind: 'audit' });
    expect(audit.map((e) => [e.data.action, e.source, e.data.who])).toEqual([
      ['webhook.upsert', 'ops', 'ada-admin'],
      ['webhook.upsert', generated.id, 'ada-admin'],
      ['webhook.upsert', 'ops', 'ada-admin'],
      ['webhook.delete', 'ops', 'ada-admin'],
    ]);
    expect(audit[2]?.data).toMatchObject({
      oldValue: { url: 'http://127.0.0.1:9/hook' },
      newValue: { url: 'http://127.0.0.1:9/hook2' },
    });
  });
});
