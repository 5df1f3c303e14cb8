// Connectivity against the plant emulator's real endpoints (issue 4): every bound signal of
// the demo line arrives over its own protocol (OPC UA, Modbus TCP, Sparkplug B, MQTT JSON)
// through the gateway onto the bus, and setpoint writes reach the plant over each protocol.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Gateway, startGateway } from '@gemba/connect';
import { type BusMessage, InProcessBus, type SourceStatus, silentLogger, subjectForPath } from '@gemba/core';
import { serviceSkipReason } from '@gemba/core/testing';
import { type Plant, startPlant } from '@gemba/plant';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const skip = await serviceSkipReason('mosquitto');

describe.skipIf(skip !== undefined)('gateway against the plant emulator', () => {
  let plant: Plant;
  let gateway: Gateway;
  let dir: string;
  const bus = new InProcessBus({ maxMessages: 1_000_000 });
  const good = new Map<string, number>();
  const subjects = new Set<string>();
  const problems: SourceStatus[] = [];
  let onGood: (() => void) | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gemba-connect-plant-'));
    const id = randomUUID().slice(0, 8);
    plant = await startPlant({
      seed: 7,
      speed: 20,
      mqttUrl: 'mqtt://127.0.0.1:1883',
      sparkplugGroupId: `t-${id}`,
      jsonTopic: `gemba-test/${id}/energy`,
      pkiDir: join(dir, 'plant-pki'),
    });
    await bus.consume({ durable: 'check', filter: 'gemba.samples.>' }, (m: BusMessage) => {
      subjects.add(m.subject);
      for (let i = 0; i < m.batch.length; i++) {
        if (m.batch.qualityAt(i) === 'good')
          good.set(m.batch.signals[i] as string, m.batch.valueAt(i) as number);
      }
      onGood?.();
      m.ack();
    });
    gateway = await startGateway({
      model: plant.model,
      bus,
      logger: silentLogger(),
      // The plant runs accelerated: its source times run ahead of the wall clock, so the
      // gateway shares its clock (else every sample is flagged as clock skew).
      clock: plant.clock,
      dataDir: dir,
      overrides: plant.sourceOverrides(),
    });
    gateway.onStatus((s) => {
      if (s.problem !== undefined) problems.push(s);
    });
  }, 60_000);

  afterAll(async () => {
    await gateway?.stop();
    await plant?.stop();
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const until = (pred: () => boolean, what: string, timeoutMs = 45_000): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        onGood = undefined;
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      const check = (): void => {
        if (!pred()) return;
        clearTimeout(timer);
        onGood = undefined;
        resolve();
      };
      onGood = check;
      check();
    });

  it('reads every bound signal of the demo line over its protocol', async () => {
    const bound = plant.model.bindings.map((b) => b.signalPath);
    await until(() => bound.every((s) => good.has(s)), 'a good value of every bound signal');
    const line = plant.model.lines[0];
    expect(subjects).toEqual(new Set([subjectForPath(line?.path ?? '')]));
    const st = gateway.status();
    expect(st.sources.map((s) => [s.id, s.state])).toEqual(
      plant.model.sources.map((s) => [s.id, 'connected']),
    );
    expect(problems).toEqual([]);
    // Values make sense: oven zone 2 near its cure temperature, counters are counts.
    const zone2 = good.get(`${line?.path}/oven/zone2/temperature`) as number;
    expect(zone2).toBeGreaterThan(20);
    expect(zone2).toBeLessThan(400);
  });

  it('writes setpoints over OPC UA, Modbus and Sparkplug', async () => {
    const L = plant.model.lines[0]?.path as string;
    const targets: [string, number][] = [
      [`${L}/press/speed_setpoint`, 95], // OPC UA
      [`${L}/oven/zone2/setpoint`, 178], // Modbus FC16
      [`${L}/assembly/speed_setpoint`, 105], // Sparkplug DCMD
    ];
    for (const [signal, value] of targets) await gateway.write(signal, value);
    await until(
      () => targets.every(([s, v]) => Math.abs((plant.current(s)?.value as number) - v) < 1e-3),
      'the plant to take every setpoint',
      15_000,
    );
    await until(
      () => targets.every(([s, v]) => Math.abs((good.get(s) ?? Number.NaN) - v) < 1e-3),
      'setpoints read back',
    );
  });
});
