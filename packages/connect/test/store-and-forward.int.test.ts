import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type BusMessage, InProcessBus, RealClock, SampleBatchBuilder, silentLogger } from '@gemba/core';
import { Collector } from '@gemba/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreAndForward } from '../src/buffer/store-and-forward.ts';
import { pymodbusSkipReason, startPymodbus } from './fixtures/pymodbus.ts';
import { SwitchableBus } from './fixtures/switchable-bus.ts';

const noPymodbus = pymodbusSkipReason();
const SUBJECT = 'gemba.samples.acme.p1.a1.line1';
const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'gemba-sf-'));
  dirs.push(d);
  return d;
};
const open: StoreAndForward[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const batch = (i: number, n = 1) => {
  const b = new SampleBatchBuilder(n);
  for (let k = 0; k < n; k++) b.pushNumber('acme/p1/a1/line1/m1/count', 1_767_600_000_000 + i, i);
  return b.build();
};

/** Collects the numbers a consumer receives. */
async function consumeNumbers(bus: InProcessBus): Promise<Collector<number>> {
  const got = new Collector<number>();
  await bus.consume({ durable: 'check', filter: `${SUBJECT}` }, (m: BusMessage) => {
    got.push(m.batch.num[0] as number);
    m.ack();
  });
  return got;
}

/** Batches in an outage run. */
const OUTAGE_BATCHES = 3000;

/**
 * Enqueues batches 0..OUTAGE_BATCHES-1 into a store-and-forward buffer over a bus that goes `down` from batch
 * 500 to 2000 (checking that the buffer has taken over by batch 1000), then flushes it.
 */
async function streamThroughOutage(down: Exclude<SwitchableBus['down'], false>) {
  const inner = new InProcessBus({ maxMessages: 100_000 });
  const bus = new SwitchableBus(inner);
  const sf = new StoreAndForward({
    bus,
    dir: tmp(),
    clock: new RealClock(),
    logger: silentLogger(),
    publishTimeoutMs: 100,
  });
  open.push(sf);
  const got = await consumeNumbers(inner);
  for (let i = 0; i < OUTAGE_BATCHES; i++) {
    if (i === 500) bus.down = down;
    if (i === 2000) bus.down = false;
    sf.enqueue(SUBJECT, batch(i));
    if (i % 100 === 0) await new Promise((r) => setImmediate(r));
    if (i === 1000) expect(sf.stats().mode).toBe('buffering');
  }
  await sf.flush(20_000);
  return { bus, sf, got };
}

describe('store-and-forward', () => {
  for (const how of ['reject', 'hang'] as const) {
    it(`buffers while the bus is away (${how}) and replays every batch once, in order`, async () => {
      const { sf, got } = await streamThroughOutage(how);
      const all = await got.waitFor(OUTAGE_BATCHES);
      expect(all).toEqual([...Array(OUTAGE_BATCHES).keys()]);
      const s = sf.stats();
      expect(s.mode).toBe('direct');
      expect(s.bufferedBatches).toBe(0);
      expect(s.droppedBatches).toBe(0);
      expect(s.publishErrors).toBeGreaterThan(0);
    });
  }

  it('delivers every batch exactly once, in order, when the bus stores messages but their acknowledgements are lost', async () => {
    // The bus deduplicates by msgId (JetStream's Nats-Msg-Id; the in-process bus the same way):
    // a resend of a batch the bus already stored is acknowledged as a duplicate and not stored again.
    const { bus, sf, got } = await streamThroughOutage('lose-ack');
    const all = await got.waitFor(OUTAGE_BATCHES);
    // Nothing more arrives after the flush: no sample twice.
    await new Promise((r) => setTimeout(r, 200));
    expect(got.items).toHaveLength(OUTAGE_BATCHES);
    expect(all).toEqual([...Array(OUTAGE_BATCHES).keys()]);
    // The link really lost acknowledgements and the buffer really resent stored batches.
    expect(bus.lostAcks).toBeGreaterThan(0);
    expect(bus.duplicates).toBeGreaterThan(0);
    const s = sf.stats();
    expect(s.mode).toBe('direct');
    expect(s.bufferedBatches).toBe(0);
    expect(s.publishErrors).toBeGreaterThan(0);
  });

  it('survives a restart while buffering and replays first', async () => {
    const dir = tmp();
    const inner = new InProcessBus();
    const bus = new SwitchableBus(inner);
    bus.down = 'reject';
    const first = new StoreAndForward({ bus, dir, clock: new RealClock(), logger: silentLogger() });
    for (let i = 0; i < 100; i++) first.enqueue(SUBJECT, batch(i));
    await first.close();
    bus.down = false;
    const got = await consumeNumbers(inner);
    const second = new StoreAndForward({ bus, dir, clock: new RealClock(), logger: silentLogger() });
    open.push(second);
    for (let i = 100; i < 150; i++) second.enqueue(SUBJECT, batch(i));
    await second.flush(10_000);
    expect(await got.waitFor(150)).toEqual([...Array(150).keys()]);
  });

  it('drops the oldest data when full, and counts and reports it', async () => {
    const inner = new InProcessBus();
    const bus = new SwitchableBus(inner);
    bus.down = 'reject';
    const drops: number[] = [];
    const sf = new StoreAndForward({
      bus,
      dir: tmp(),
      clock: new RealClock(),
      logger: silentLogger(),
      maxBytes: 64 * 1024,
      onDrop: (d) => drops.push(d.samples),
    });
    open.push(sf);
    const N = 2000;
    for (let i = 0; i < N; i++) sf.enqueue(SUBJECT, batch(i, 5));
    const s = sf.stats();
    expect(s.bufferedBytes).toBeLessThanOrEqual(64 * 1024);
    expect(s.droppedBatches).toBeGreaterThan(0);
    expect(s.droppedSamples).toBe(s.droppedBatches * 5);
    expect(drops.reduce((a, b) => a + b, 0)).toBe(s.droppedSamples);
    bus.down = false;
    const got = await consumeNumbers(inner);
    await sf.flush(10_000);
    const all = await got.waitFor(N - s.droppedBatches);
    // What is left is the newest data, in order, without holes.
    expect(all[0]).toBe(s.droppedBatches);
    expect(all).toEqual([...Array(N - s.droppedBatches).keys()].map((k) => k + s.droppedBatches));
  });

  it('keeps everything enqueued before a kill -9 of the buffering process', async () => {
    const dir = tmp();
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        fileURLToPath(new URL('./fixtures/buffering-child.ts', import.meta.url)),
        dir,
        '100000',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let last = -1;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('child produced too little')), 30_000);
      createInterface({ input: child.stdout }).on('line', (l) => {
        last = Number(l);
        if (last === 700) {
          clearTimeout(timer);
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    await exited;
    expect(last).toBeGreaterThanOrEqual(700);
    const inner = new InProcessBus();
    const got = await consumeNumbers(inner);
    const sf = new StoreAndForward({ bus: inner, dir, clock: new RealClock(), logger: silentLogger() });
    open.push(sf);
    await sf.flush(10_000);
    const all = got.items;
    // Everything acknowledged as enqueued by the child is there, in order, once.
    expect(all.length).toBeGreaterThanOrEqual(last + 1);
    expect(all).toEqual([...Array(all.length).keys()]);
  });

  it.skipIf(noPymodbus !== undefined)('keeps what a gateway buffered when it is killed with -9', async () => {
    const dir = tmp();
    const srv = await startPymodbus();
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        fileURLToPath(new URL('./fixtures/gateway-child.ts', import.meta.url)),
        dir,
        String(srv.port),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let buffered = 0;
    let counter = 0;
    let running = true;
    // The machine counts while the gateway buffers (its bus is unreachable).
    const counting = (async () => {
      while (running) {
        await srv.set('ir', 0, [++counter]);
        await new Promise((r) => setTimeout(r, 30));
      }
    })();
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`gateway buffered only ${buffered}`)), 30_000);
        createInterface({ input: child.stdout }).on('line', (l) => {
          buffered = Number(l);
          if (buffered >= 40) {
            clearTimeout(timer);
            child.kill('SIGKILL');
            resolve();
          }
        });
      });
      await exited;
    } finally {
      running = false;
      await counting;
      await srv.stop();
    }
    const inner = new InProcessBus();
    const values: number[] = [];
    await inner.consume({ durable: 'check', filter: 'gemba.samples.>' }, (m: BusMessage) => {
      for (let i = 0; i < m.batch.length; i++) values.push(m.batch.num[i] as number);
      m.ack();
    });
    const sf = new StoreAndForward({
      bus: inner,
      dir: join(dir, 'buffer'),
      clock: new RealClock(),
      logger: silentLogger(),
    });
    open.push(sf);
    await sf.flush(10_000);
    // At least what the gateway last reported as buffered, each counter value once, in order.
    expect(values.length).toBeGreaterThanOrEqual(buffered);
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeGreaterThan(values[i - 1] as number);
    expect(values.at(-1)).toBeLessThanOrEqual(counter);
  });
});
