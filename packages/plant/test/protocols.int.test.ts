import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ManualClock } from '@gemba/core';
import { commandSkipReason, serviceSkipReason } from '@gemba/core/testing';
import modbusSerial from 'modbus-serial';
import mqtt from 'mqtt';
import {
  AttributeIds,
  ClientMonitoredItem,
  type ClientSession,
  ClientSubscription,
  type DataValue,
  MessageSecurityMode,
  makeBrowsePath,
  OPCUACertificateManager,
  OPCUAClient,
  SecurityPolicy,
  TimestampsToReturn,
  UserTokenType,
} from 'node-opcua';
import { decodePayload, encodePayload } from 'sparkplug-payload/lib/sparkplugbpayload.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Plant, startPlant } from '../src/index.ts';
import { run, within } from './helpers.ts';

// modbus-serial is CommonJS; under NodeNext its class is the default export's `default`.
const ModbusRTU = modbusSerial.default;
const LINE = 'acme/plant1/assembly/line1';
const MQTT_URL = 'mqtt://127.0.0.1:1883';
const mosquittoSkip = await serviceSkipReason('mosquitto');
const mbpollSkip = await commandSkipReason('mbpoll', 'apt-get install mbpoll');
const mosquittoSubSkip = await commandSkipReason('mosquitto_sub', 'apt-get install mosquitto-clients');

describe('OPC UA server (press, weld)', () => {
  let plant: Plant;
  let clock: ManualClock;
  let pki: string;

  beforeAll(async () => {
    clock = new ManualClock();
    pki = await mkdtemp(path.join(tmpdir(), 'gemba-plant-test-pki-'));
    plant = await startPlant({ clock, seed: 7, modbusPort: false, pkiDir: path.join(pki, 'server') });
  });
  afterAll(async () => {
    await plant?.stop();
    await rm(pki, { recursive: true, force: true });
  });

  async function connect(
    options: { secure?: boolean; user?: { userName: string; password: string } } = {},
  ): Promise<{ client: OPCUAClient; session: ClientSession }> {
    const clientCertificateManager = new OPCUACertificateManager({
      rootFolder: path.join(pki, 'client'),
      automaticallyAcceptUnknownCertificate: true,
    });
    const client = OPCUAClient.create({
      endpointMustExist: false,
      clientCertificateManager,
      connectionStrategy: { maxRetry: 1, initialDelay: 100, maxDelay: 200 },
      ...(options.secure === true
        ? { securityMode: MessageSecurityMode.SignAndEncrypt, securityPolicy: SecurityPolicy.Basic256Sha256 }
        : {}),
    });
    await client.connect(plant.endpoints.opcua as string);
    const session: ClientSession =
      options.user === undefined
        ? await client.createSession()
        : await client.createSession({ type: UserTokenType.UserName, ...options.user });
    return { client, session };
  }

  it('browses the ISA-95 hierarchy and reads values with source timestamps and units', async () => {
    const { client, session } = await connect();
    try {
      const result = await session.translateBrowsePath(
        makeBrowsePath('RootFolder', '/Objects/1:acme/1:plant1/1:assembly/1:line1/1:press/1:state'),
      );
      expect(result.statusCode.isGood()).toBe(true);
      expect(result.targets?.[0]?.targetId.toString()).toBe('ns=1;s=press.state');
      const dv = await session.read({ nodeId: 'ns=1;s=press.vibration', attributeId: AttributeIds.Value });
      expect(dv.statusCode.isGood()).toBe(true);
      expect(dv.sourceTimestamp?.getTime()).toBe(plant.current(`${LINE}/press/vibration`)?.ts);
      const props = await session.browse('ns=1;s=press.motor_current');
      const names = props.references?.map((r) => r.browseName.name) ?? [];
      expect(names).toContain('EngineeringUnits');
      expect(names).toContain('EURange');
    } finally {
      await session.close();
      await client.disconnect();
    }
  });

  it('serves subscriptions, Basic256Sha256 Sign&Encrypt and user/password', async () => {
    const { client, session } = await connect({
      secure: true,
      user: { userName: 'gemba', password: 'gemba' },
    });
    try {
      const sub = ClientSubscription.create(session, {
        requestedPublishingInterval: 50,
        requestedLifetimeCount: 100,
        requestedMaxKeepAliveCount: 10,
        publishingEnabled: true,
      });
      const item = ClientMonitoredItem.create(
        sub,
        { nodeId: 'ns=1;s=press.parts_total', attributeId: AttributeIds.Value },
        { samplingInterval: 50, queueSize: 100, discardOldest: true },
        TimestampsToReturn.Both,
      );
      const seen: DataValue[] = [];
      const grew = new Promise<void>((resolve) => {
        item.on('changed', (dv: DataValue) => {
          seen.push(dv);
          if (Number(dv.value.value) >= 5) resolve();
        });
      });
      await within(new Promise((r) => item.once('initialized', r)), 5000, 'monitored item');
      clock.advance(5 * 60_000); // the press makes ~15 parts in 5 minutes
      await within(grew, 10_000, 'press.parts_total to reach 5 over a subscription');
      expect(seen.at(-1)?.sourceTimestamp?.getTime()).toBeLessThanOrEqual(clock.now());
      await sub.terminate();
    } finally {
      await session.close();
      await client.disconnect();
    }
  });

  it('refuses a wrong password', async () => {
    await expect(connect({ user: { userName: 'gemba', password: 'wrong' } })).rejects.toThrow();
  });

  it('accepts a speed setpoint write that changes the physics, and refuses out-of-range', async () => {
    const { client, session } = await connect();
    try {
      const ok = await session.write({
        nodeId: 'ns=1;s=weld.speed_setpoint',
        attributeId: AttributeIds.Value,
        value: { value: { dataType: 'Double', value: 120 } },
      });
      expect(ok.isGood()).toBe(true);
      expect(plant.physics.speed('weld')).toBe(120);
      const bad = await session.write({
        nodeId: 'ns=1;s=weld.speed_setpoint',
        attributeId: AttributeIds.Value,
        value: { value: { dataType: 'Double', value: 400 } },
      });
      expect(bad.isGood()).toBe(false);
      expect(plant.physics.speed('weld')).toBe(120);
      const back = await session.read({
        nodeId: 'ns=1;s=weld.speed_setpoint',
        attributeId: AttributeIds.Value,
      });
      expect(back.value.value).toBe(120);
    } finally {
      await session.close();
      await client.disconnect();
    }
  });
  it('drops every session on an injected comms loss and serves again afterwards', async () => {
    const { client } = await connect();
    const lost = new Promise<void>((resolve) => client.once('connection_lost', () => resolve()));
    await plant.inject({ kind: 'comms-loss', endpoint: 'opcua', durationS: 20 });
    await within(lost, 5000, 'the client to lose its connection');
    await client.disconnect();
    await expect(connect()).rejects.toThrow();
    clock.advance(21_000);
    const again = await within(
      (async () => {
        for (let i = 0; i < 50; i++) {
          try {
            return await connect();
          } catch {
            await new Promise((r) => setTimeout(r, 100));
          }
        }
        throw new Error('OPC UA endpoint did not come back');
      })(),
      15_000,
      'the OPC UA endpoint to come back',
    );
    const dv = await again.session.read({ nodeId: 'ns=1;s=weld.state', attributeId: AttributeIds.Value });
    expect(dv.value.value).toBe(plant.current(`${LINE}/weld/state`)?.value);
    await again.session.close();
    await again.client.disconnect();
  });
});

describe('Modbus TCP server (oven)', () => {
  let plant: Plant;
  let clock: ManualClock;

  beforeAll(async () => {
    clock = new ManualClock();
    plant = await startPlant({ clock, seed: 7, opcuaPort: false, controlPort: 0 });
    clock.advance(10 * 60_000);
  });
  afterAll(async () => {
    await plant?.stop();
  });

  it.skipIf(mbpollSkip !== undefined)(
    'mbpoll reads the zone temperatures (float32, big-endian words)',
    async () => {
      const port = String(plant.endpoints.modbus?.port);
      const out = await run('mbpoll', [
        '-m',
        'tcp',
        '-a',
        '1',
        '-0',
        '-r',
        '0',
        '-c',
        '3',
        '-t',
        '3:float',
        '-B',
        '-1',
        '-p',
        port,
        '127.0.0.1',
      ]);
      expect(out.code).toBe(0);
      const values = [...out.stdout.matchAll(/^\[(\d+)\]:\s+(-?[\d.]+)/gm)].map((m) => [
        Number(m[1]),
        Number(m[2]),
      ]);
      expect(values.map((v) => v[0])).toEqual([0, 2, 4]);
      for (const [addr, v] of values) {
        const zone = `zone${(addr as number) / 2 + 1}`;
        const served = plant.current(`${LINE}/oven/${zone}/temperature`)?.value as number;
        expect(v).toBeCloseTo(served, 1);
      }
      const counters = await run('mbpoll', [
        '-m',
        'tcp',
        '-0',
        '-r',
        '14',
        '-c',
        '1',
        '-t',
        '3:int',
        '-B',
        '-1',
        '-p',
        port,
        '127.0.0.1',
      ]);
      const total = Number(/^\[14\]:\s+(\d+)/m.exec(counters.stdout)?.[1]);
      expect(total).toBe(plant.current(`${LINE}/oven/parts_total`)?.value);
      expect(total).toBeGreaterThan(0);
    },
  );

  it('a float32 setpoint write (FC16) moves the zone with its time constant', async () => {
    const client = new ModbusRTU();
    await client.connectTCP('127.0.0.1', { port: plant.endpoints.modbus?.port as number });
    client.setID(1);
    client.setTimeout(2000);
    try {
      const words = Buffer.alloc(4);
      words.writeFloatBE(195, 0);
      await client.writeRegisters(0, [words.readUInt16BE(0), words.readUInt16BE(2)]);
      expect(plant.current(`${LINE}/oven/zone1/setpoint`)?.value).toBe(195);
      const before = plant.physics.zoneTemperature('zone1');
      const lambdaS = plant.physics.config.oven.zones.zone1?.responseTimeConstantS ?? 0;
      clock.advance(lambdaS * 1000);
      const expected = before + (195 - before) * (1 - Math.exp(-1));
      expect(Math.abs(plant.physics.zoneTemperature('zone1') - expected)).toBeLessThan(1.5);
      const hr = await client.readHoldingRegisters(0, 2);
      const b = Buffer.alloc(4);
      b.writeUInt16BE(hr.data[0] as number, 0);
      b.writeUInt16BE(hr.data[1] as number, 2);
      expect(b.readFloatBE(0)).toBe(195);
      // Out of range is refused with a Modbus exception and changes nothing.
      words.writeFloatBE(900, 0);
      await expect(
        client.writeRegisters(0, [words.readUInt16BE(0), words.readUInt16BE(2)]),
      ).rejects.toThrow();
      expect(plant.current(`${LINE}/oven/zone1/setpoint`)?.value).toBe(195);
    } finally {
      await new Promise<void>((resolve) => client.close(() => resolve()));
    }
  });

  it('serves the oven status bits in coils (FC1) and discrete inputs (FC2), read-only, following the physics', async () => {
    const client = new ModbusRTU();
    await client.connectTCP('127.0.0.1', { port: plant.endpoints.modbus?.port as number });
    client.setID(1);
    const expected = (): boolean[] => {
      const state = plant.current(`${LINE}/oven/state`)?.value;
      const inBand = [1, 2, 3].map((z) => {
        const t = plant.current(`${LINE}/oven/zone${z}/temperature`)?.value as number;
        const sp = plant.current(`${LINE}/oven/zone${z}/setpoint`)?.value as number;
        return Math.abs(t - sp) <= 5;
      });
      return [state === 6, state === 9, ...inBand];
    };
    const read = async (): Promise<{ coils: boolean[]; inputs: boolean[] }> => ({
      coils: (await client.readCoils(0, 5)).data.slice(0, 5),
      inputs: (await client.readDiscreteInputs(0, 5)).data.slice(0, 5),
    });
    try {
      plant.sync();
      let bits = await read();
      expect(bits.coils).toEqual(expected());
      expect(bits.inputs).toEqual(bits.coils);
      // A breakdown: running off, faulted on (PackML Aborted).
      await plant.inject({ kind: 'breakdown', station: 'oven', durationS: 120 });
      bits = await read();
      expect(plant.current(`${LINE}/oven/state`)?.value).toBe(9);
      expect(bits.coils.slice(0, 2)).toEqual([false, true]);
      expect(bits.coils).toEqual(expected());
      expect(bits.inputs).toEqual(bits.coils);
      // Repaired after its duration: the faulted bit clears.
      clock.advance(121_000);
      bits = await read();
      expect(bits.coils[1]).toBe(false);
      expect(bits.coils).toEqual(expected());
      // The status bits are read-only: FC5 is answered with exception 03 and changes nothing.
      await expect(client.writeCoil(1, true)).rejects.toMatchObject({ modbusCode: 3 });
      expect((await read()).coils[1]).toBe(false);
    } finally {
      await new Promise<void>((resolve) => client.close(() => resolve()));
    }
  });

  it('drops the endpoint on an injected comms loss and serves again afterwards', async () => {
    const port = plant.endpoints.modbus?.port as number;
    const res = await fetch(`${plant.endpoints.control}/inject`, {
      method: 'POST',
      body: JSON.stringify({ kind: 'comms-loss', endpoint: 'modbus', durationS: 30 }),
    });
    expect(res.status).toBe(200);
    const client = new ModbusRTU();
    await expect(client.connectTCP('127.0.0.1', { port })).rejects.toThrow();
    clock.advance(31_000);
    await within(
      (async () => {
        for (let i = 0; i < 50; i++) {
          try {
            await client.connectTCP('127.0.0.1', { port });
            return;
          } catch {
            await new Promise((r) => setTimeout(r, 50));
          }
        }
        throw new Error('Modbus endpoint did not come back');
      })(),
      5000,
      'the Modbus endpoint to come back',
    );
    client.setID(1);
    const r = await client.readInputRegisters(20, 1);
    expect(r.data[0]).toBe(plant.current(`${LINE}/oven/state`)?.value);
    await new Promise<void>((resolve) => client.close(() => resolve()));
  });
});

describe.skipIf(mosquittoSkip !== undefined)(
  'Sparkplug B edge node and JSON meter (assembly, test, pack, energy)',
  () => {
    it.skipIf(mosquittoSubSkip !== undefined)('mosquitto_sub receives the births and data', async () => {
      const groupId = `plant-test-${process.pid}-${Date.now()}`;
      // stdbuf: mosquitto_sub block-buffers stdout into a pipe; we need the SUBACK line at once.
      const sub = spawn('stdbuf', [
        '-oL',
        'mosquitto_sub',
        '-h',
        '127.0.0.1',
        '-p',
        '1883',
        '-d',
        '-t',
        `spBv1.0/${groupId}/#`,
        '-F',
        'TOPIC %t',
        '-C',
        '6',
        '-W',
        '30',
      ]);
      let out = '';
      const subscribed = new Promise<void>((resolve) => {
        sub.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('SUBACK')) resolve();
        });
      });
      const exited = new Promise<void>((resolve) => sub.on('close', () => resolve()));
      await within(subscribed, 10_000, 'mosquitto_sub to subscribe');
      const clock = new ManualClock();
      const plant = await startPlant({
        clock,
        opcuaPort: false,
        modbusPort: false,
        mqttUrl: MQTT_URL,
        sparkplugGroupId: groupId,
      });
      try {
        clock.advance(60_000);
        await within(exited, 20_000, 'mosquitto_sub to receive 6 messages');
        const topics = out
          .split('\n')
          .filter((l) => l.startsWith('TOPIC '))
          .map((l) => l.slice(6));
        expect(topics.slice(0, 4)).toEqual([
          `spBv1.0/${groupId}/NBIRTH/line1`,
          `spBv1.0/${groupId}/DBIRTH/line1/assembly`,
          `spBv1.0/${groupId}/DBIRTH/line1/test`,
          `spBv1.0/${groupId}/DBIRTH/line1/pack`,
        ]);
        expect(
          topics
            .slice(4)
            .every(
              (t) =>
                t.startsWith(`spBv1.0/${groupId}/DDATA/line1/`) || t === `spBv1.0/${groupId}/NDATA/line1`,
            ),
        ).toBe(true);
      } finally {
        sub.kill();
        await plant.stop();
      }
    });

    it('publishes aliased DDATA and NDATA with seq, rebirths on NCMD, takes DCMD writes, sends NDEATH and JSON', async () => {
      const groupId = `plant-test-${process.pid}-${Date.now()}-b`;
      const jsonTopic = `gemba-test/${groupId}/energy`;
      const client = mqtt.connect(MQTT_URL, { clientId: `${groupId}-host` });
      await within(new Promise((r) => client.once('connect', r)), 5000, 'MQTT connect');
      const messages: { topic: string; payload: Buffer; qos: number }[] = [];
      const waiters: { pred: (t: string, p: Buffer) => boolean; resolve: () => void }[] = [];
      client.on('message', (topic, payload, packet) => {
        messages.push({ topic, payload, qos: packet.qos });
        for (const w of [...waiters]) {
          if (w.pred(topic, payload)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve();
          }
        }
      });
      const waitFor = (what: string, pred: (t: string, p: Buffer) => boolean): Promise<void> =>
        within(new Promise<void>((resolve) => waiters.push({ pred, resolve })), 10_000, what);
      await client.subscribeAsync([`spBv1.0/${groupId}/#`, jsonTopic], { qos: 1 });
      const clock = new ManualClock();
      const births = waitFor('DBIRTH pack', (t) => t.endsWith('/DBIRTH/line1/pack'));
      const plant = await startPlant({
        clock,
        opcuaPort: false,
        modbusPort: false,
        mqttUrl: MQTT_URL,
        sparkplugGroupId: groupId,
        jsonTopic,
      });
      try {
        expect(plant.sourceOverrides()['sparkplug-line1']).toEqual({ url: MQTT_URL, groupId });
        expect(plant.sourceOverrides()['mqtt-energy']).toEqual({ url: MQTT_URL, topic: jsonTopic });
        await births;
        // Sparkplug 3.0 §6.4.19/§6.4.20: births at QoS 0 (this host subscribed at QoS 1, so a
        // QoS 1 birth would arrive as QoS 1).
        const birthQos = messages.filter((m) => /\/(N|D)BIRTH\//.test(`${m.topic}/`)).map((m) => m.qos);
        expect(birthQos.length).toBeGreaterThanOrEqual(4);
        expect(new Set(birthQos)).toEqual(new Set([0]));
        const dbirth = decodePayload(
          messages.find((m) => m.topic.endsWith('/DBIRTH/line1/assembly'))?.payload as Buffer,
        );
        const aliasOf = new Map((dbirth.metrics ?? []).map((m) => [m.name, Number(m.alias)]));
        expect(aliasOf.get('Parts/Total')).toBeGreaterThan(0);
        const nbirth = decodePayload(
          messages.find((m) => m.topic === `spBv1.0/${groupId}/NBIRTH/line1`)?.payload as Buffer,
        );
        const uptime = (nbirth.metrics ?? []).find((m) => m.name === 'Properties/Uptime');
        expect(uptime).toMatchObject({ type: 'UInt64' });
        expect(Number(uptime?.value)).toBe(0);
        const data = waitFor('DDATA assembly', (t) => t.endsWith('/DDATA/line1/assembly'));
        const json = waitFor('JSON energy', (t) => t === jsonTopic);
        const ndataTopic = `spBv1.0/${groupId}/NDATA/line1`;
        const lastNdata = waitFor(
          'NDATA with 120 s uptime',
          (t, p) => t === ndataTopic && Number(decodePayload(p).metrics?.[0]?.value) === 120,
        );
        clock.advance(2 * 60_000);
        await Promise.all([data, json, lastNdata]);
        // Node metrics by exception: one NDATA per 10 s of uptime, by alias, with seq.
        const ndata = messages.filter((m) => m.topic === ndataTopic).map((m) => decodePayload(m.payload));
        expect(ndata.map((p) => Number(p.metrics?.[0]?.value))).toEqual(
          Array.from({ length: 12 }, (_, i) => (i + 1) * 10),
        );
        for (const p of ndata) {
          expect(p.seq).toBeDefined();
          expect(p.metrics).toHaveLength(1);
          expect(p.metrics?.[0]?.name ?? undefined).toBeUndefined();
          expect(Number(p.metrics?.[0]?.alias)).toBe(Number(uptime?.alias));
        }
        const dd = decodePayload(
          messages.find((m) => m.topic.endsWith('/DDATA/line1/assembly'))?.payload as Buffer,
        );
        expect(dd.seq).toBeDefined();
        for (const m of dd.metrics ?? []) {
          expect(m.name ?? undefined).toBeUndefined();
          expect([...aliasOf.values()]).toContain(Number(m.alias));
          expect(Number(m.timestamp)).toBeLessThanOrEqual(clock.now());
        }
        const energy = JSON.parse(String(messages.find((m) => m.topic === jsonTopic)?.payload)) as Record<
          string,
          number
        >;
        expect(Object.keys(energy).sort()).toEqual(['energy_kwh', 'power_kw', 'ts']);
        // Sequence numbers run 0..255 over every message of the node.
        const seqs = messages
          .filter((m) => m.topic.startsWith(`spBv1.0/${groupId}/`) && !m.topic.includes('/NDEATH/'))
          .map((m) => Number(decodePayload(m.payload).seq));
        expect(seqs).toEqual(seqs.map((_, i) => i % 256));

        // DCMD writes the speed setpoint.
        const dcmd = encodePayload({
          timestamp: Date.now(),
          metrics: [{ name: 'Speed Setpoint', type: 'Double', value: 110 }],
        });
        const written = new Promise<void>((resolve) => {
          const off = plant.onTruth((e) => {
            if (e.kind === 'setpoint' && e.signal === `${LINE}/pack/speed_setpoint`) {
              off();
              resolve();
            }
          });
        });
        await client.publishAsync(`spBv1.0/${groupId}/DCMD/line1/pack`, Buffer.from(dcmd), { qos: 1 });
        await within(written, 5000, 'the DCMD write');
        expect(plant.physics.speed('pack')).toBe(110);

        // NCMD Node Control/Rebirth republishes the births.
        const reborn = waitFor('NBIRTH after rebirth', (t) => t.endsWith('/NBIRTH/line1'));
        const ncmd = encodePayload({
          timestamp: Date.now(),
          metrics: [{ name: 'Node Control/Rebirth', type: 'Boolean', value: true }],
        });
        await client.publishAsync(`spBv1.0/${groupId}/NCMD/line1`, Buffer.from(ncmd), { qos: 1 });
        await reborn;

        // A comms loss kills the connection without DISCONNECT: the broker publishes NDEATH.
        const death = waitFor('NDEATH', (t) => t.endsWith('/NDEATH/line1'));
        await plant.inject({ kind: 'comms-loss', endpoint: 'mqtt', durationS: 10 });
        await death;
        const nbirthAgain = waitFor(
          'NBIRTH after comms loss',
          (t, p) => t.endsWith('/NBIRTH/line1') && bdSeq(p) === 1,
        );
        clock.advance(11_000);
        await nbirthAgain;

        // Malformed payloads arrive on DDATA.
        const malformed = waitFor('malformed DDATA', (t, p) => t.includes('/DDATA/') && p[0] === 0xff);
        await plant.inject({ kind: 'malformed-sparkplug', count: 1 });
        await malformed;

        // Silent: no data (and no NDEATH) for the duration, then data again.
        const silentFrom = plant.physics.nowMs;
        const mark = messages.length;
        await plant.inject({ kind: 'silent', durationS: 30 });
        clock.advance(20_000);
        const silentTo = silentFrom + 30_000;
        const resumed = waitFor(
          'DDATA after the silence',
          (t, p) =>
            t.includes('/DDATA/') &&
            p[0] !== 0xff &&
            (decodePayload(p).metrics ?? []).some((m) => Number(m.timestamp) > silentTo),
        );
        clock.advance(20_000);
        await resumed;
        const during = messages.slice(mark).filter((m) => {
          if (m.topic.includes('/NDEATH/')) return true;
          if (!m.topic.includes('/DDATA/') || m.payload[0] === 0xff) return false;
          return (decodePayload(m.payload).metrics ?? []).some(
            (x) => Number(x.timestamp) > silentFrom + 100 && Number(x.timestamp) < silentTo,
          );
        });
        expect(during).toEqual([]);
      } finally {
        await plant.stop();
        await client.endAsync();
      }
    });
  },
);

function bdSeq(payload: Buffer): number | undefined {
  const m = decodePayload(payload).metrics?.find((x) => x.name === 'bdSeq');
  return m === undefined ? undefined : Number(m.value);
}
