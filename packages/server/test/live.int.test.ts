import { SampleBatch } from '@gemba/core';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { SeqEntry, ServerMessage } from '../src/index.ts';
import { startPlatform, type TestPlatform, TOKENS } from './fixtures.ts';

const LINE = 'acme/plant1/assembly/line1';
const TEMP = `${LINE}/oven/zone2/temperature`;
const PRESS_STATE = `${LINE}/press/state`;

/** A WebSocket client that queues messages and lets a test await the next one matching a predicate. */
class Client {
  readonly ws: WebSocket;
  readonly messages: ServerMessage[] = [];
  #waiters: { pred: (m: ServerMessage) => boolean; resolve: (m: ServerMessage) => void }[] = [];
  #cursor = 0;

  constructor(url: string, headers?: Record<string, string>) {
    this.ws = new WebSocket(url, headers === undefined ? undefined : { headers });
    this.ws.on('message', (data: Buffer) => {
      const m = JSON.parse(data.toString()) as ServerMessage;
      this.messages.push(m);
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.pred(m)) return true;
        w.resolve(m);
        return false;
      });
    });
  }

  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
  }

  /** The next message (after the ones already taken) matching `pred`, within 5 s. */
  next<T extends ServerMessage['type']>(
    type: T,
    pred: (m: Extract<ServerMessage, { type: T }>) => boolean = () => true,
  ): Promise<Extract<ServerMessage, { type: T }>> {
    const match = (m: ServerMessage): boolean =>
      m.type === type && pred(m as Extract<ServerMessage, { type: T }>);
    for (; this.#cursor < this.messages.length; this.#cursor++) {
      const m = this.messages[this.#cursor] as ServerMessage;
      if (match(m)) {
        this.#cursor++;
        return Promise.resolve(m as Extract<ServerMessage, { type: T }>);
      }
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no '${type}' message within 5 s`)), 5000);
      this.#waiters.push({
        pred: match,
        resolve: (m) => {
          clearTimeout(timer);
          this.#cursor = this.messages.length;
          resolve(m as Extract<ServerMessage, { type: T }>);
        },
      });
    });
  }

  send(msg: unknown): void {
    this.ws.send(JSON.stringify(msg));
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}

function sample(signal: string, value: number, ts = Date.now()): SampleBatch {
  return SampleBatch.fromSamples([{ signal, ts, value, quality: 'good' }]);
}

describe('WebSocket live feed', () => {
  let p: TestPlatform | undefined;
  const clients: Client[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await p?.close();
    p = undefined;
  });

  async function connect(
    token = TOKENS.viewer.token,
    live?: Parameters<typeof startPlatform>[1],
  ): Promise<{ c: Client; url: string }> {
    if (p === undefined) {
      p = await startPlatform({}, live);
      await p.app.listen({ host: '127.0.0.1', port: 0 });
    }
    const addr = p.app.server.address();
    if (addr === null || typeof addr === 'string') throw new Error('no address');
    const url = `ws://127.0.0.1:${addr.port}/api/live`;
    const c = new Client(`${url}?token=${token}`);
    clients.push(c);
    await c.opened();
    return { c, url };
  }

  it('refuses a connection without a valid token', async () => {
    await connect();
    const addr = p?.app.server.address();
    if (addr === null || addr === undefined || typeof addr === 'string') throw new Error('no address');
    for (const url of [
      `ws://127.0.0.1:${addr.port}/api/live`,
      `ws://127.0.0.1:${addr.port}/api/live?token=wrong`,
    ]) {
      const ws = new WebSocket(url);
      ws.on('error', () => {});
      const status = await new Promise<number>((resolve) =>
        ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)),
      );
      expect(status).toBe(401);
      ws.terminate();
    }
    // A bearer header works too (non-browser clients).
    const c = new Client(`ws://127.0.0.1:${addr.port}/api/live`, {
      authorization: `Bearer ${TOKENS.admin.token}`,
    });
    clients.push(c);
    await c.opened();
    expect((await c.next('hello')).timezone).toBe('Europe/Berlin');
  });

  it('sends a snapshot on subscribe, then deltas with increasing sequence numbers, only for the pattern', async () => {
    const { c } = await connect();
    await c.next('hello');
    p?.twin.ingest(sample(TEMP, 181));
    c.send({ type: 'subscribe', patterns: [`${LINE}/oven/#`] });
    const snap = await c.next('snapshot');
    const temp = snap.entries.find((e) => e.path === TEMP);
    expect(temp).toMatchObject({ kind: 'value', value: 181 });
    expect(snap.entries.every((e) => e.path.startsWith(`${LINE}/oven`))).toBe(true);
    expect(snap.entries.some((e) => e.kind === 'state' && e.path === `${LINE}/oven`)).toBe(true);

    p?.twin.ingest(sample(PRESS_STATE, 6)); // outside the pattern
    p?.twin.ingest(sample(TEMP, 182));
    const d1 = await c.next('delta');
    expect(d1.entries.map((e) => e.path)).toEqual([TEMP]);
    expect(d1.entries[0]).toMatchObject({ value: 182 });
    const seq1 = (d1.entries[0] as SeqEntry).seq;
    expect(seq1).toBeGreaterThan(snap.seq);

    p?.twin.ingest(sample(`${LINE}/oven/state`, 9));
    const d2 = await c.next('delta', (m) => m.entries.some((e) => e.kind === 'state'));
    const st = d2.entries.find((e) => e.kind === 'state');
    expect(st).toMatchObject({ path: `${LINE}/oven`, state: 'down' });
    expect((st as SeqEntry).seq).toBeGreaterThan(seq1);

    c.send({ type: 'unsubscribe', patterns: [`${LINE}/oven/#`] });
    c.send({ type: 'ping' });
    await c.next('pong');
    p?.twin.ingest(sample(TEMP, 183));
    c.send({ type: 'ping' });
    await c.next('pong');
    expect(c.messages.filter((m) => m.type === 'delta').length).toBe(2);
  });

  it('answers malformed messages with an error and keeps the connection', async () => {
    const { c } = await connect();
    c.send({ type: 'subscribe', patterns: [] });
    expect((await c.next('error')).error.code).toBe('GEMBA_API_INVALID_INPUT');
    c.ws.send('not json');
    expect((await c.next('error')).error.code).toBe('GEMBA_API_INVALID_INPUT');
    c.send({ type: 'subscribe', patterns: ['a/#/b'] });
    expect((await c.next('error')).error.message).toContain('a/#/b');
    c.send({ type: 'ping' });
    await c.next('pong');
  });

  it('resumes after a reconnect without gaps: the missed changes, latest per signal', async () => {
    const { c, url } = await connect();
    const hello = await c.next('hello');
    c.send({ type: 'subscribe', patterns: [`${LINE}/#`] });
    const snap = await c.next('snapshot');
    p?.twin.ingest(sample(TEMP, 170));
    const d = await c.next('delta');
    const lastSeq = Math.max(snap.seq, ...d.entries.map((e) => e.seq));
    await c.close();

    // While disconnected: three changes of one signal and one of another.
    const t = Date.now();
    p?.twin.ingest(sample(TEMP, 171, t + 1));
    p?.twin.ingest(sample(TEMP, 172, t + 2));
    p?.twin.ingest(sample(`${LINE}/press/vibration`, 3.3, t + 3));
    p?.twin.ingest(sample(TEMP, 173, t + 4));

    const c2 = new Client(`${url}?token=${TOKENS.viewer.token}`);
    clients.push(c2);
    await c2.opened();
    await c2.next('hello');
    c2.send({ type: 'subscribe', patterns: [`${LINE}/#`], lastSeq, epoch: hello.epoch });
    const resumed = await c2.next('delta');
    expect(resumed.resumed).toBe(true);
    expect(resumed.entries.map((e) => [e.path, (e as { value?: unknown }).value])).toEqual([
      [`${LINE}/press/vibration`, 3.3],
      [TEMP, 173],
    ]);
    expect(c2.messages.some((m) => m.type === 'snapshot')).toBe(false);

    // A sequence from another server epoch (a restart) gets a full snapshot instead.
    const c3 = new Client(`${url}?token=${TOKENS.viewer.token}`);
    clients.push(c3);
    await c3.opened();
    c3.send({ type: 'subscribe', patterns: [`${LINE}/#`], lastSeq, epoch: 'another-epoch' });
    expect((await c3.next('snapshot')).entries.length).toBeGreaterThan(50);
  });

  it('sends a snapshot instead when the missed changes have left the ring', async () => {
    const { c, url } = await connect(TOKENS.viewer.token, { live: { ringSize: 5 } });
    const hello = await c.next('hello');
    c.send({ type: 'subscribe', patterns: [`${LINE}/#`] });
    const snap = await c.next('snapshot');
    await c.close();
    const t = Date.now();
    for (let i = 0; i < 10; i++) p?.twin.ingest(sample(TEMP, 150 + i, t + i));
    const c2 = new Client(`${url}?token=${TOKENS.viewer.token}`);
    clients.push(c2);
    await c2.opened();
    c2.send({ type: 'subscribe', patterns: [`${LINE}/#`], lastSeq: snap.seq, epoch: hello.epoch });
    const again = await c2.next('snapshot');
    expect(again.entries.find((e) => e.path === TEMP)).toMatchObject({ value: 159 });
    expect(c2.messages.some((m) => m.type === 'delta' && m.resumed === true)).toBe(false);
  });

  it('gives a slow client the latest value per signal instead of a growing queue', async () => {
    const { c } = await connect(TOKENS.viewer.token, { live: { maxBufferedBytes: -1 } });
    await c.next('hello');
    c.send({ type: 'subscribe', patterns: [`${LINE}/#`] });
    await c.next('snapshot');
    // maxBufferedBytes -1 makes every client count as slow: updates wait and are conflated.
    const t = Date.now();
    for (let i = 0; i < 1000; i++) p?.twin.ingest(sample(TEMP, i, t + i));
    c.send({ type: 'ping' });
    await c.next('pong');
    // The pong's seq says what has been delivered: nothing of the 1000 yet.
    const deltas = c.messages.filter((m) => m.type === 'delta');
    expect(deltas).toHaveLength(0);
    const hub = (p as TestPlatform).app;
    const metrics = await hub.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: `Bearer ${TOKENS.viewer.token}` },
    });
    expect(metrics.body).toMatch(/gemba_live_entries_conflated_total 999/);
  });

  it('sends heartbeats carrying the delivered sequence number', async () => {
    const { c } = await connect(TOKENS.viewer.token, { live: { heartbeatMs: 50 } });
    await c.next('hello');
    const hb = await c.next('heartbeat');
    expect(typeof hb.seq).toBe('number');
    expect(Math.abs(hb.now - Date.now())).toBeLessThan(5000);
  });
});
