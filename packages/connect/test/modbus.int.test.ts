import { type Model, RealClock, type Sample, type SourceStatus, silentLogger } from '@gemba/core';
import { Collector, sourceContractSuite } from '@gemba/core/testing';
import modbusSerial from 'modbus-serial';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeRegisters } from '../src/modbus/codec.ts';
import type { ModbusSource } from '../src/modbus/driver.ts';
import { createSource } from '../src/source/create-source.ts';
import { sig, sourceDef, testModel } from './fixtures/model.ts';
import { startMuteProxy } from './fixtures/mute-proxy.ts';
import { type PymodbusServer, pymodbusSkipReason, startPymodbus } from './fixtures/pymodbus.ts';

const skip = pymodbusSkipReason();

function modbusModel(port: number, extra: Record<string, unknown> = {}): Model {
  return testModel([
    {
      id: 'plc',
      protocol: 'modbus',
      host: '127.0.0.1',
      port,
      pollIntervalMs: 50,
      timeoutMs: 500,
      pollGroups: { fast: { intervalMs: 20 } },
      bindings: [
        { signal: 'm1/temp', table: 'input', address: 0, type: 'float32' },
        { signal: 'm1/power', table: 'input', address: 2, type: 'float32', wordOrder: 'little' },
        { signal: 'm1/count', table: 'input', address: 4, type: 'uint32', pollGroup: 'fast' },
        { signal: 'm1/level', table: 'input', address: 6, type: 'int16', pollGroup: 'fast' },
        { signal: 'm1/flag', table: 'input', address: 7, bit: 3 },
        { signal: 'm1/setpoint', table: 'holding', address: 0, type: 'float32' },
        { signal: 'm1/running', table: 'coil', address: 5 },
      ],
      ...extra,
    },
  ]);
}

async function fillRegisters(srv: PymodbusServer): Promise<void> {
  await srv.set('ir', 0, encodeRegisters(181.5, 'float32', { wordOrder: 'big', byteOrder: 'big' }));
  await srv.set('ir', 2, encodeRegisters(42.25, 'float32', { wordOrder: 'little', byteOrder: 'big' }));
  await srv.set('ir', 4, encodeRegisters(70_000, 'uint32', { wordOrder: 'big', byteOrder: 'big' }));
  await srv.set('ir', 6, [0xfffe, 0b1000]);
  await srv.set('hr', 0, encodeRegisters(175, 'float32', { wordOrder: 'big', byteOrder: 'big' }));
  await srv.set('co', 5, [1]);
}

describe.skipIf(skip !== undefined)('Modbus TCP against pymodbus', () => {
  const ALL = ['temp', 'power', 'count', 'level', 'flag', 'setpoint', 'running'] as const;
  let srv: PymodbusServer | undefined;

  sourceContractSuite('modbus (pymodbus)', async () => {
    srv = await startPymodbus();
    await fillRegisters(srv);
    const port = srv.port;
    const model = modbusModel(port);
    const source = createSource(sourceDef(model), model, { logger: silentLogger(), clock: new RealClock() });
    return {
      source,
      signals: ALL.map(sig),
      breakPeer: async () => {
        await srv?.stop();
      },
      restorePeer: async () => {
        srv = await startPymodbus(port);
        await fillRegisters(srv);
      },
      write: {
        signal: sig('setpoint'),
        value: 190.5,
        readBack: async () => {
          const regs = await (srv as PymodbusServer).get('hr', 0, 2);
          const dv = new DataView(new ArrayBuffer(4));
          dv.setUint16(0, regs[0] as number);
          dv.setUint16(2, regs[1] as number);
          return dv.getFloat32(0);
        },
      },
      cleanup: async () => {
        await srv?.stop();
      },
    };
  });

  let source: ModbusSource | undefined;
  afterEach(async () => {
    await source?.stop();
    await srv?.stop();
  });

  it('decodes both word orders, 32-bit counters, signed values and bit fields', async () => {
    srv = await startPymodbus();
    await fillRegisters(srv);
    const model = modbusModel(srv.port);
    source = createSource(sourceDef(model), model, {
      logger: silentLogger(),
      clock: new RealClock(),
    }) as ModbusSource;
    const got = new Map<string, Sample>();
    const seen = new Collector<string>();
    source.onBatch((b) => {
      for (const s of b.toSamples()) {
        if (!got.has(s.signal)) seen.push(s.signal);
        got.set(s.signal, s);
      }
    });
    await source.start();
    await seen.waitFor(ALL.length);
    expect(got.get(sig('temp'))?.value).toBeCloseTo(181.5);
    expect(got.get(sig('power'))?.value).toBeCloseTo(42.25);
    expect(got.get(sig('count'))?.value).toBe(70_000);
    expect(got.get(sig('level'))?.value).toBe(-2);
    expect(got.get(sig('flag'))?.value).toBe(true);
    expect(got.get(sig('running'))?.value).toBe(true);
    expect([...got.values()].every((s) => s.quality === 'good')).toBe(true);
    // Input registers 0-7 (two poll groups), holding 0-1 and coil 5: four reads per round.
    expect(source.plan.flatMap((g) => g.blocks).length).toBe(4);
  });

  it('times out and retries against a peer that stops answering: bad values and a status event naming the register range; recovers when it answers again', async () => {
    srv = await startPymodbus();
    await fillRegisters(srv);
    const proxy = await startMuteProxy(srv.port);
    const timeoutMs = 300;
    const model = testModel([
      {
        id: 'plc',
        protocol: 'modbus',
        host: '127.0.0.1',
        port: proxy.port,
        pollIntervalMs: 50,
        timeoutMs,
        bindings: [
          { signal: 'm1/temp', table: 'input', address: 0, type: 'float32' },
          { signal: 'm1/count', table: 'input', address: 4, type: 'uint32' },
        ],
      },
    ]);
    source = createSource(sourceDef(model), model, {
      logger: silentLogger(),
      clock: new RealClock(),
    }) as ModbusSource;
    const temps = new Collector<Sample>();
    const statuses = new Collector<SourceStatus>();
    source.onBatch((b) => {
      for (const x of b.toSamples()) if (x.signal === sig('temp')) temps.push(x);
    });
    source.onStatus((x) => statuses.push(x));
    const firstOf = async <T>(c: Collector<T>, pred: (x: T) => boolean, ms: number): Promise<T> => {
      const deadline = Date.now() + ms;
      for (;;) {
        const hit = c.items.find(pred);
        if (hit !== undefined) return hit;
        if (Date.now() > deadline) throw new Error(`nothing matched within ${ms} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    try {
      await source.start();
      await firstOf(temps, (x) => x.quality === 'good', 10_000);
      const mutedAt = Date.now();
      const mutedFrom = temps.items.length;
      proxy.muted = true;
      const timeout = await firstOf(statuses, (x) => x.problem === 'timeout', 10_000);
      // One block (input registers 0-5), tried once more before it counts as failed.
      expect(timeout.reason).toBe(
        `127.0.0.1:${proxy.port} unit 1 input registers 0-5: no answer within ${timeoutMs} ms`,
      );
      expect(timeout.state).toBe('degraded');
      expect(timeout.details).toMatchObject({ table: 'input', unitId: 1, start: 0, length: 6 });
      expect(Date.now() - mutedAt).toBeGreaterThanOrEqual(2 * timeoutMs);
      expect(proxy.dropped).toBeGreaterThanOrEqual(2);
      const bad = await firstOf(
        temps,
        (x) => temps.items.indexOf(x) >= mutedFrom && x.quality === 'bad',
        5000,
      );
      expect(bad.value).toBeNaN();
      // Still no answer: the driver gives up on this connection and dials again.
      const dropped = await firstOf(
        statuses,
        (x) => x.state === 'disconnected' && /stopped answering/.test(x.reason ?? ''),
        15_000,
      );
      expect(dropped.reason).toContain(`127.0.0.1:${proxy.port}`);
      // The peer answers again: good values, and the source says it is connected.
      const answeringFrom = temps.items.length;
      const statusFrom = statuses.items.length;
      proxy.muted = false;
      const back = await firstOf(
        temps,
        (x) => temps.items.indexOf(x) >= answeringFrom && x.quality === 'good',
        15_000,
      );
      expect(back.value).toBeCloseTo(181.5);
      await firstOf(
        statuses,
        (x) => statuses.items.indexOf(x) >= statusFrom && x.state === 'connected',
        5000,
      );
      expect(source.state).toBe('connected');
      expect(proxy.connections).toBeGreaterThanOrEqual(2);
    } finally {
      await source.stop();
      await proxy.stop();
    }
  });

  it('reports an exception response with its register range; other reads keep flowing', async () => {
    srv = await startPymodbus();
    await fillRegisters(srv);
    const model = testModel([
      {
        id: 'plc',
        protocol: 'modbus',
        host: '127.0.0.1',
        port: srv.port,
        pollIntervalMs: 50,
        bindings: [
          { signal: 'm1/temp', table: 'input', address: 0, type: 'float32' },
          // pymodbus serves 1000 registers: this read is refused (exception 2).
          { signal: 'm1/level', table: 'holding', address: 5000, type: 'int16' },
        ],
      },
    ]);
    source = createSource(sourceDef(model), model, {
      logger: silentLogger(),
      clock: new RealClock(),
    }) as ModbusSource;
    const statuses = new Collector<SourceStatus>();
    const samples = new Collector<Sample>();
    source.onStatus((s) => statuses.push(s));
    source.onBatch((b) => {
      for (const s of b.toSamples()) samples.push(s);
    });
    await source.start();
    await samples.waitFor(6);
    const problem = statuses.items.find((s) => s.problem === 'modbus-exception');
    expect(problem?.reason).toMatch(
      /unit 1 holding registers 5000: Modbus exception 2 \(illegal data address\)/,
    );
    expect(problem?.reason).toContain(`127.0.0.1:${srv.port}`);
    expect(samples.items.filter((s) => s.signal === sig('level')).every((s) => s.quality === 'bad')).toBe(
      true,
    );
    expect(samples.items.some((s) => s.signal === sig('temp') && s.quality === 'good')).toBe(true);
    expect(source.state).toBe('degraded');
  });

  it('marks a register that decodes to NaN bad and says which', async () => {
    srv = await startPymodbus();
    await srv.set('ir', 0, [0x7fc0, 0x0000]);
    const model = modbusModel(srv.port);
    source = createSource(sourceDef(model), model, {
      logger: silentLogger(),
      clock: new RealClock(),
    }) as ModbusSource;
    const statuses = new Collector<SourceStatus>();
    source.onStatus((s) => {
      if (s.problem === 'nan-value') statuses.push(s);
    });
    const temp = new Collector<Sample>();
    source.onBatch((b) => {
      for (const s of b.toSamples()) if (s.signal === sig('temp')) temp.push(s);
    });
    await source.start();
    const [st] = await statuses.waitFor(1);
    expect(st?.reason).toContain('input registers 0-1');
    expect(st?.reason).toContain(sig('temp'));
    expect((await temp.waitFor(1))[0]?.quality).toBe('bad');
  });
});

describe('Modbus TCP against modbus-serial ServerTCP', () => {
  let server: InstanceType<typeof modbusSerial.ServerTCP> | undefined;
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  it('reads and writes holding registers', async () => {
    const holding = new Uint16Array(100);
    holding.set(encodeRegisters(-12.5, 'float32', { wordOrder: 'big', byteOrder: 'little' }), 10);
    const s = new modbusSerial.ServerTCP(
      {
        getHoldingRegister: (addr: number) => holding[addr] ?? 0,
        getInputRegister: () => 0,
        setRegister: (addr: number, value: number) => {
          holding[addr] = value;
        },
      },
      { host: '127.0.0.1', port: 0, unitID: 1 },
    );
    server = s;
    await new Promise<void>((resolve) => s.on('initialized', () => resolve()));
    const port = (
      (
        s as unknown as { _server: import('node:net').Server }
      )._server.address() as import('node:net').AddressInfo
    ).port;
    const model = testModel([
      {
        id: 'plc2',
        protocol: 'modbus',
        host: '127.0.0.1',
        port,
        pollIntervalMs: 20,
        bindings: [
          { signal: 'm1/setpoint', table: 'holding', address: 10, type: 'float32', byteOrder: 'little' },
        ],
      },
    ]);
    const source = createSource(sourceDef(model), model, { logger: silentLogger(), clock: new RealClock() });
    const values = new Collector<Sample>();
    source.onBatch((b) => {
      for (const x of b.toSamples()) values.push(x);
    });
    await source.start();
    try {
      expect((await values.waitFor(1))[0]?.value).toBe(-12.5);
      await source.write(sig('setpoint'), 33.25);
      expect([holding[10], holding[11]]).toEqual(
        encodeRegisters(33.25, 'float32', { wordOrder: 'big', byteOrder: 'little' }),
      );
      const n = values.items.length;
      await values.waitFor(n + 3);
      expect(values.items.at(-1)?.value).toBe(33.25);
    } finally {
      await source.stop();
    }
  });
});
