import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type BusMessage,
  InProcessBus,
  RealClock,
  type Sample,
  silentLogger,
  subjectForPath,
} from '@gemba/core';
import { Collector } from '@gemba/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../src/gateway/gateway.ts';
import { encodeRegisters } from '../src/modbus/codec.ts';
import { LINE, sig, testModel } from './fixtures/model.ts';
import { type PymodbusServer, pymodbusSkipReason, startPymodbus } from './fixtures/pymodbus.ts';
import { SwitchableBus } from './fixtures/switchable-bus.ts';

const skip = pymodbusSkipReason();
const be = { wordOrder: 'big', byteOrder: 'big' } as const;

describe.skipIf(skip !== undefined)('gateway: Modbus → edge → store-and-forward → bus', () => {
  let srv: PymodbusServer | undefined;
  let gw: Gateway | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await gw?.stop();
    await srv?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('publishes scaled samples on the line subject, survives a bus outage and writes setpoints', async () => {
    srv = await startPymodbus();
    await srv.set('ir', 0, [0]);
    await srv.set('hr', 0, encodeRegisters(150, 'float32', be));
    const model = testModel([
      {
        id: 'plc',
        protocol: 'modbus',
        host: '127.0.0.1',
        port: 1, // replaced by the override, as the plant emulator's ports are
        pollIntervalMs: 10,
        bindings: [
          { signal: 'm1/count', table: 'input', address: 0, type: 'uint16', edge: { changeOnly: true } },
          {
            signal: 'm1/temp',
            table: 'input',
            address: 1,
            type: 'int16',
            edge: { gain: 0.1, changeOnly: true },
          },
          {
            signal: 'm1/setpoint',
            table: 'holding',
            address: 0,
            type: 'float32',
            edge: { changeOnly: true },
          },
        ],
      },
    ]);
    const inner = new InProcessBus({ maxMessages: 100_000 });
    const bus = new SwitchableBus(inner);
    dir = mkdtempSync(join(tmpdir(), 'gemba-gw-'));
    const counts = new Collector<number>();
    const all: Sample[] = [];
    const subjects = new Set<string>();
    await inner.consume({ durable: 'test', filter: 'gemba.samples.>' }, (m: BusMessage) => {
      subjects.add(m.subject);
      for (const s of m.batch.toSamples()) {
        all.push(s);
        if (s.signal === sig('count') && s.quality === 'good') counts.push(s.value as number);
      }
      m.ack();
    });
    gw = await startGateway({
      model,
      bus,
      logger: silentLogger(),
      clock: new RealClock(),
      dataDir: dir,
      overrides: { plc: { port: srv.port } },
      publishTimeoutMs: 200,
    });
    await srv.set('ir', 1, [2215]);
    // A steady stream: the counter goes up by one, the bus is away for a while in the middle.
    for (let i = 1; i <= 60; i++) {
      if (i === 20) bus.down = 'reject';
      if (i === 40) bus.down = false;
      await srv.set('ir', 0, [i]);
      await new Promise((r) => setTimeout(r, 25));
    }
    await gw.flush(10_000);
    await counts.waitFor(61);
    // Every counter value, in order, once (change-only keeps one per value).
    expect(counts.items).toEqual([...Array(61).keys()]);
    expect(subjects).toEqual(new Set([subjectForPath(LINE)]));
    expect(all.findLast((s) => s.signal === sig('temp'))?.value).toBeCloseTo(221.5);
    const st = gw.status();
    expect(st.sources[0]).toMatchObject({ id: 'plc', protocol: 'modbus', state: 'connected' });
    expect(st.buffer.publishErrors).toBeGreaterThan(0);
    expect(st.buffer.bufferedBatches).toBe(0);

    await gw.write(sig('setpoint'), 165.5);
    const regs = await srv.get('hr', 0, 2);
    expect(regs).toEqual(encodeRegisters(165.5, 'float32', be));
    await expect(gw.write(sig('count'), 1)).rejects.toMatchObject({ code: 'GEMBA_CONNECT_WRITE' });
    await expect(gw.write(sig('mode'), 'x')).rejects.toMatchObject({ code: 'GEMBA_CONNECT_UNKNOWN_SOURCE' });
  });

  it('rejects an unknown source id', async () => {
    const model = testModel([]);
    await expect(
      startGateway({
        model,
        bus: new InProcessBus(),
        logger: silentLogger(),
        clock: new RealClock(),
        dataDir: tmpdir(),
        sources: ['nope'],
      }),
    ).rejects.toMatchObject({ code: 'GEMBA_CONNECT_UNKNOWN_SOURCE' });
  });
});
