// Production orders pushed through the API (JSON from an MES, or a CSV import) become the
// running order in the engine's context: in the twin, and on the state events it stores. Runs
// the all-in-one composition (`gemba start`) without drivers; samples go onto its bus.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Platform, startPlatform } from '@gemba/cli';
import { loadModelFile, PACKML_CODE, SampleBatch, silentLogger } from '@gemba/core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

const PLANT = fileURLToPath(new URL('../../examples/demo-line/plant.yaml', import.meta.url));
const L = 'acme/plant1/assembly/line1';
const ENGINEER = { token: 'engineer-token-orders-0123456789', role: 'engineer' as const, name: 'erin' };

describe('orders through the API into the engine', () => {
  let dir: string;
  let p: Platform;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'gemba-orders-'));
    p = await startPlatform({
      model: await loadModelFile(PLANT),
      logger: silentLogger(),
      dataDir: dir,
      sources: [],
      web: false,
      tokens: [ENGINEER],
    });
  });
  afterAll(async () => {
    await p?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  const api = (method: 'GET' | 'POST', url: string, payload?: string, type = 'application/json') =>
    p.app.inject({
      method,
      url,
      headers: {
        authorization: `Bearer ${ENGINEER.token}`,
        ...(payload === undefined ? {} : { 'content-type': type }),
      },
      ...(payload === undefined ? {} : { payload }),
    });

  /** Puts the press into `code` at `ts` through the bus, as a driver would. */
  const pressState = (ts: number, code: number) =>
    p.bus.publish(
      'gemba.samples.acme.plant1',
      SampleBatch.fromSamples([{ signal: `${L}/press/state`, ts, value: code, quality: 'good' }]),
    );

  /** The order on the stored state event that began at `startMs`, once the engine has written it. */
  const orderOfStateAt = async (startMs: number): Promise<unknown> => {
    let order: unknown;
    await vi.waitFor(
      async () => {
        const res = await api('GET', `/api/history/states?path=${L}/press&from=${startMs}&to=${startMs + 1}`);
        const ev = res.json().events.find((e: { ts: number }) => e.ts === startMs);
        expect(ev).toBeDefined();
        order = ev.data.order;
      },
      { timeout: 10_000, interval: 50 },
    );
    return order;
  };

  it('an order pushed as JSON, then one imported as CSV, each becomes the running order', async () => {
    // The model's only order, PO-1001, is the line's until the MES says otherwise.
    expect(p.engine.production(L).order).toBe('PO-1001');
    const t = Date.now();
    await pressState(t - 3000, PACKML_CODE.Execute);

    const pushed = await api(
      'POST',
      '/api/orders',
      JSON.stringify({
        orders: [
          { id: 'PO-1001', product: 'widget-a', line: L, quantity: 5000, status: 'done' },
          { id: 'PO-2001', product: 'widget-a', line: L, quantity: 300, status: 'running' },
        ],
      }),
    );
    expect(pushed.statusCode).toBe(200);
    expect(p.engine.production(L)).toMatchObject({ order: 'PO-2001', product: 'widget-a' });
    expect(p.engine.asset(`${L}/press`)?.production?.order).toBe('PO-2001');
    expect((await api('GET', '/api/orders')).json().running[L]).toBe('PO-2001');
    // The press's next state interval is stored with the running order.
    await pressState(t - 2000, PACKML_CODE.Suspended);
    await pressState(t - 1000, PACKML_CODE.Execute);
    expect(await orderOfStateAt(t - 2000)).toBe('PO-2001');

    const csv = [
      'id,product,line,quantity,status',
      `PO-2001,widget-a,${L},300,done`,
      `PO-2002,widget-a,${L},120,running`,
    ].join('\n');
    const imported = await api('POST', '/api/orders/import', csv, 'text/csv');
    expect(imported.statusCode).toBe(200);
    expect(imported.json().accepted).toBe(2);
    expect(p.engine.production(L).order).toBe('PO-2002');
    await pressState(t, PACKML_CODE.Suspended);
    expect(await orderOfStateAt(t - 1000)).toBe('PO-2002');
    // The order pushes are historian events of kind `order` below the line.
    const events = (await api('GET', `/api/history/events?kind=order&source=${L}`)).json().events;
    expect(
      events.map((e: { data: { id: string; status: string } }) => `${e.data.id}:${e.data.status}`),
    ).toEqual(['PO-1001:done', 'PO-2001:running', 'PO-2001:done', 'PO-2002:running']);
  });

  it('refuses an order for a line or product the model does not have, and leaves the schedule alone', async () => {
    const bad = await api(
      'POST',
      '/api/orders',
      JSON.stringify({ orders: [{ id: 'PO-X', product: 'gizmo', line: L, quantity: 1, status: 'running' }] }),
    );
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toContain("product 'gizmo'");
    const badCsv = await api(
      'POST',
      '/api/orders/import',
      'id,product,line,quantity\nPO-Y,widget-a,acme/x,1',
      'text/csv',
    );
    expect(badCsv.statusCode).toBe(400);
    expect(p.engine.production(L).order).toBe('PO-2002');
  });
});
