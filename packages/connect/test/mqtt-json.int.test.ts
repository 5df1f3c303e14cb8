import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RealClock, type Sample, type SourceStatus, silentLogger } from '@gemba/core';
import { Collector, commandSkipReason, serviceSkipReason, sourceContractSuite } from '@gemba/core/testing';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { MqttJsonSource } from '../src/mqtt/json/driver.ts';
import { createSource } from '../src/source/create-source.ts';
import { sig, sourceDef, testModel } from './fixtures/model.ts';
import { makeTlsFiles, type PrivateBroker, startMosquitto } from './fixtures/mosquitto.ts';

const noBroker = await commandSkipReason('mosquitto', 'apt-get install mosquitto');
const noShared = await serviceSkipReason('mosquitto');

function jsonModel(url: string, topic: string) {
  return testModel([
    {
      id: 'meter',
      protocol: 'mqtt-json',
      url,
      bindings: [
        { signal: 'm1/power', topic, field: 'power_kw', timestampField: 'ts' },
        { signal: 'm1/count', topic, field: 'meter.readings[1].value' },
        { signal: 'm1/running', topic, field: 'on' },
        { signal: 'm1/mode', topic: `${topic}/+/mode`, field: 'mode' },
      ],
    },
  ]);
}

const readPem = (file: string): Buffer => readFileSync(file);

const doc = (i: number) => ({
  ts: Date.now(),
  power_kw: 40 + i,
  meter: { readings: [{ value: 0 }, { value: i }] },
  on: true,
});

describe.skipIf(noBroker !== undefined)('MQTT JSON with a private Mosquitto', () => {
  let broker: PrivateBroker | undefined;
  let pub: mqtt.MqttClient | undefined;
  const topic = `gemba-test/${randomUUID()}/energy`;
  sourceContractSuite('mqtt-json (mosquitto)', async () => {
    broker = await startMosquitto();
    const b = broker;
    const model = jsonModel(b.url, topic);
    const source = createSource(sourceDef(model), model, { logger: silentLogger(), clock: new RealClock() });
    let i = 0;
    return {
      source,
      signals: [sig('power'), sig('count'), sig('running'), sig('mode')],
      produce: async () => {
        // The source subscribes after connecting; publish retained so a late subscriber still gets it.
        pub ??= await mqtt.connectAsync((broker as PrivateBroker).url, { reconnectPeriod: 0 });
        await pub.publishAsync(topic, JSON.stringify(doc(i++)), { qos: 1, retain: true });
        await pub.publishAsync(`${topic}/line1/mode`, JSON.stringify({ mode: 'auto' }), {
          qos: 1,
          retain: true,
        });
      },
      breakPeer: async () => {
        await pub?.endAsync(true);
        pub = undefined;
        await broker?.stop();
      },
      restorePeer: async () => {
        broker = await startMosquitto(b.port);
      },
      cleanup: async () => {
        await pub?.endAsync(true);
        pub = undefined;
        await broker?.stop();
      },
    };
  });
});

describe.skipIf(noBroker !== undefined)('MQTT JSON over TLS', () => {
  it('trusts the broker through its CA file and refuses it without', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gemba-tls-'));
    const files = makeTlsFiles(dir);
    const broker = await startMosquitto(undefined, files);
    const topic = `gemba-test/${randomUUID()}/energy`;
    const model = testModel([
      {
        id: 'tls',
        protocol: 'mqtt-json',
        url: broker.url,
        tls: { caFile: files.caFile },
        bindings: [{ signal: 'm1/power', topic, field: 'p' }],
      },
      {
        id: 'untrusted',
        protocol: 'mqtt-json',
        url: broker.url,
        bindings: [{ signal: 'm1/level', topic, field: 'p' }],
      },
    ]);
    const good = createSource(sourceDef(model, 0), model, { logger: silentLogger(), clock: new RealClock() });
    const bad = createSource(sourceDef(model, 1), model, { logger: silentLogger(), clock: new RealClock() });
    const samples = new Collector<Sample>();
    good.onBatch((b) => {
      for (const s of b.toSamples()) samples.push(s);
    });
    const badStates: string[] = [];
    bad.onStatus((s) => badStates.push(s.state));
    const connected = new Promise<void>((resolve) =>
      good.onStatus((s) => s.state === 'connected' && resolve()),
    );
    const pub = await mqtt.connectAsync(broker.url, { ca: [readPem(files.caFile)], reconnectPeriod: 0 });
    try {
      await good.start();
      await bad.start();
      await connected;
      await pub.publishAsync(topic, JSON.stringify({ p: 12.5 }), { qos: 1 });
      expect((await samples.waitFor(1))[0]).toMatchObject({
        signal: sig('power'),
        value: 12.5,
        quality: 'good',
      });
      expect(badStates).not.toContain('connected');
    } finally {
      await pub.endAsync(true);
      await good.stop();
      await bad.stop();
      await broker.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(noBroker !== undefined)('MQTT 5 with user and password', () => {
  it('connects as MQTT 5 with the password from the environment; a wrong password is refused and reported', async () => {
    const broker = await startMosquitto(undefined, undefined, { users: { gemba: 's3cret', other: 'x' } });
    const topic = `gemba-test/${randomUUID()}/energy`;
    process.env.GEMBA_TEST_MQTT_PW = 's3cret';
    process.env.GEMBA_TEST_MQTT_BAD_PW = 'wrong';
    const model = testModel([
      {
        id: 'v5',
        protocol: 'mqtt-json',
        url: broker.url,
        mqttVersion: 5,
        username: 'gemba',
        passwordEnv: 'GEMBA_TEST_MQTT_PW',
        bindings: [{ signal: 'm1/power', topic, field: 'p' }],
      },
      {
        id: 'badpw',
        protocol: 'mqtt-json',
        url: broker.url,
        mqttVersion: 5,
        username: 'gemba',
        passwordEnv: 'GEMBA_TEST_MQTT_BAD_PW',
        bindings: [{ signal: 'm1/level', topic, field: 'p' }],
      },
    ]);
    const good = createSource(sourceDef(model, 0), model, { logger: silentLogger(), clock: new RealClock() });
    const bad = createSource(sourceDef(model, 1), model, { logger: silentLogger(), clock: new RealClock() });
    const samples = new Collector<Sample>();
    good.onBatch((b) => {
      for (const x of b.toSamples()) samples.push(x);
    });
    const badStatus = new Collector<SourceStatus>();
    bad.onStatus((x) => badStatus.push(x));
    const connected = new Promise<void>((resolve) =>
      good.onStatus((x) => x.state === 'connected' && resolve()),
    );
    const pub = await mqtt.connectAsync(broker.url, {
      protocolVersion: 5,
      username: 'other',
      password: 'x',
      reconnectPeriod: 0,
    });
    try {
      await good.start();
      await bad.start();
      await connected;
      await pub.publishAsync(topic, JSON.stringify({ p: 7.5 }), { qos: 1 });
      expect((await samples.waitFor(1))[0]).toMatchObject({
        signal: sig('power'),
        value: 7.5,
        quality: 'good',
      });
      // The broker saw an MQTT 5 client (protocol "p5") logged in as gemba.
      expect(broker.log()).toMatch(
        /New client connected from 127\.0\.0\.1:\d+ as gemba-v5-\S+ \(p5, c1, k\d+, u'gemba'\)/,
      );
      // The wrong password: refused with the broker's reason, reported as a status event.
      const deadline = Date.now() + 10_000;
      while (!badStatus.items.some((x) => /refused/i.test(x.reason ?? '')) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const refused = badStatus.items.find((x) => /refused/i.test(x.reason ?? ''));
      expect(refused?.state).toBe('disconnected');
      expect(refused?.reason).toContain(broker.url);
      expect(refused?.reason).toMatch(/Bad User Name or Password|Not authorized/);
      expect(badStatus.items.some((x) => x.state === 'connected')).toBe(false);
    } finally {
      await pub.endAsync(true);
      await good.stop();
      await bad.stop();
      await broker.stop();
    }
  });
});

describe.skipIf(noShared !== undefined)('MQTT JSON against the shared Mosquitto', () => {
  let source: MqttJsonSource | undefined;
  let pub: mqtt.MqttClient | undefined;
  afterEach(async () => {
    await source?.stop();
    await pub?.endAsync(true);
  });

  it('maps fields and timestamps; bad payloads become bad samples and named problems', async () => {
    const topic = `gemba-test/${randomUUID()}/energy`;
    const model = jsonModel('mqtt://127.0.0.1:1883', topic);
    source = createSource(sourceDef(model), model, {
      logger: silentLogger(),
      clock: new RealClock(),
    }) as MqttJsonSource;
    const samples = new Collector<Sample>();
    const problems = new Collector<SourceStatus>();
    source.onBatch((b) => {
      for (const s of b.toSamples()) samples.push(s);
    });
    source.onStatus((s) => {
      if (s.problem !== undefined) problems.push(s);
    });
    const connected = new Promise<void>((resolve) =>
      source?.onStatus((s) => s.state === 'connected' && resolve()),
    );
    await source.start();
    await connected;
    pub = await mqtt.connectAsync('mqtt://127.0.0.1:1883', { reconnectPeriod: 0 });
    await pub.publishAsync(
      topic,
      JSON.stringify({
        ts: 1_767_600_000_000,
        power_kw: 42.5,
        meter: { readings: [{}, { value: 7 }] },
        on: 1,
      }),
      { qos: 1 },
    );
    await pub.publishAsync(topic, '{not json', { qos: 1 });
    await pub.publishAsync(
      topic,
      JSON.stringify({ ts: 1_767_600_001_000, power_kw: 'high', on: true, meter: { readings: [] } }),
      { qos: 1 },
    );
    await samples.waitFor(9);
    const [a, b, c] = [samples.items.slice(0, 3), samples.items.slice(3, 6), samples.items.slice(6, 9)];
    expect(a).toEqual([
      { signal: sig('power'), ts: 1_767_600_000_000, value: 42.5, quality: 'good' },
      expect.objectContaining({ signal: sig('count'), value: 7, quality: 'good' }),
      expect.objectContaining({ signal: sig('running'), value: true, quality: 'good' }),
    ]);
    expect(b.every((s) => s.quality === 'bad')).toBe(true);
    expect(c.map((s) => [s.signal, s.quality])).toEqual([
      [sig('power'), 'bad'],
      [sig('count'), 'bad'],
      [sig('running'), 'good'],
    ]);
    await problems.waitFor(3);
    expect(problems.items[0]).toMatchObject({ problem: 'malformed-payload', source: 'meter' });
    expect(problems.items[0]?.reason).toContain(topic);
    expect(problems.items[1]).toMatchObject({ problem: 'wrong-type' });
    expect(problems.items[1]?.reason).toMatch(/power_kw.*string "high"/);
    expect(problems.items[2]).toMatchObject({ problem: 'mapping-mismatch' });
    expect(problems.items[2]?.reason).toContain("'meter.readings[1].value' is missing");
  });
});
