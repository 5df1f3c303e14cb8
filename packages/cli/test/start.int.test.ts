import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { serviceSkipReason } from '@gemba/core/testing';
import { type Plant, startPlant } from '@gemba/plant';
import { afterEach, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');
const BIN = join(ROOT, 'packages/cli/bin/gemba.js');
const DEMO = join(ROOT, 'examples/demo-line/plant.yaml');
const noBroker = await serviceSkipReason('mosquitto');

let child: ChildProcess | undefined;
let plant: Plant | undefined;
const dirs: string[] = [];
afterEach(async () => {
  child?.kill('SIGKILL');
  child = undefined;
  await plant?.stop();
  plant = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/**
 * The demo line's model file as a user would point it at this emulator: the same file with the
 * endpoints the emulator really listens on (ephemeral ports, a Sparkplug group and an energy
 * topic of this test's own on the shared Mosquitto). Everything else is the shipped file.
 */
function modelFor(p: Plant, groupId: string, energyTopic: string): string {
  const ep = p.endpoints;
  const text = readFileSync(DEMO, 'utf8');
  const out = text
    .replace('endpoint: opc.tcp://127.0.0.1:4840/gemba', `endpoint: ${ep.opcua}`)
    .replace(/port: 5020\n/, `port: ${ep.modbus?.port}\n`)
    .replace('groupId: acme-plant1', `groupId: ${groupId}`)
    .replaceAll('topic: acme/plant1/line1/energy', `topic: ${energyTopic}`);
  // Every substitution must have happened, or the test would read the wrong endpoints.
  expect(out).toContain(`endpoint: ${ep.opcua}`);
  expect(out).toContain(`port: ${ep.modbus?.port}\n`);
  expect(out).toContain(`groupId: ${groupId}`);
  expect(out.split(`topic: ${energyTopic}`)).toHaveLength(3);
  return out;
}

/** Spawns `gemba start` and resolves with the API URL once it is up. */
function startGemba(args: string[]): Promise<string> {
  return new Promise((resolveUrl, reject) => {
    const c = spawn(process.execPath, [BIN, 'start', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = c;
    let out = '';
    let err = '';
    // Generous: on a loaded shared machine tsx alone takes seconds to start the CLI.
    const timer = setTimeout(
      () => reject(new Error(`gemba start printed no URL in 90 s\n${out}\n${err}`)),
      90_000,
    );
    c.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /Gemba is running: (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolveUrl(m[1] as string);
      }
    });
    c.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    c.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gemba start exited with ${code}\n${out}\n${err}`));
    });
  });
}

interface TwinValue {
  kind: string;
  path: string;
  value?: unknown;
  quality?: string;
}

describe.skipIf(noBroker !== undefined)(
  'gemba start --model <the demo line> with the plant emulator running',
  () => {
    it('reads every bound signal of the demo line over its real protocol with good quality', async () => {
      const unique = randomUUID().slice(0, 8);
      const groupId = `start-${unique}`;
      const energyTopic = `test/${unique}/energy`;
      const dir = mkdtempSync(join(tmpdir(), 'gemba-start-'));
      dirs.push(dir);
      // Real time: `gemba start` runs on the wall clock, as it would against a real plant.
      plant = await startPlant({
        speed: 1,
        opcuaPort: 0,
        modbusPort: 0,
        mqttUrl: 'mqtt://127.0.0.1:1883',
        sparkplugGroupId: groupId,
        jsonTopic: energyTopic,
        pkiDir: join(dir, 'plant-pki'),
      });
      const modelFile = join(dir, 'plant.yaml');
      writeFileSync(modelFile, modelFor(plant, groupId, energyTopic));
      const bound = plant.model.bindings.map((b) => b.signalPath).sort();
      expect(bound).toHaveLength(65);
      const protocols = new Set(plant.model.sources.map((s) => s.protocol));
      expect([...protocols].sort()).toEqual(['modbus', 'mqtt-json', 'opcua', 'sparkplug']);

      const token = `t-${unique}`;
      const url = await startGemba([
        '--model',
        modelFile,
        '--data',
        join(dir, 'data'),
        '--port',
        '0',
        '--token',
        token,
        '--log-level',
        'warn',
      ]);
      const auth = { authorization: `Bearer ${token}` };
      const pattern = encodeURIComponent('acme/plant1/assembly/line1/#');
      let good = new Map<string, unknown>();
      let last: TwinValue[] = [];
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const res = await fetch(`${url}/api/twin?pattern=${pattern}`, { headers: auth });
        expect(res.status).toBe(200);
        last = ((await res.json()) as { entries: TwinValue[] }).entries.filter((e) => e.kind === 'value');
        good = new Map(last.filter((e) => e.quality === 'good').map((e) => [e.path, e.value]));
        if (bound.every((p) => good.has(p))) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      const missing = bound.filter((p) => !good.has(p));
      expect(
        missing.map((p) => `${p}: ${JSON.stringify(last.find((e) => e.path === p) ?? 'no value')}`),
      ).toEqual([]);
      // The values are the emulator's: the oven's zone 2 setpoint (Modbus holding register) and
      // the press's speed setpoint (OPC UA) are what the emulator serves.
      for (const p of [
        'acme/plant1/assembly/line1/oven/zone2/setpoint',
        'acme/plant1/assembly/line1/press/speed_setpoint',
        'acme/plant1/assembly/line1/pack/speed_setpoint',
      ]) {
        expect(good.get(p), p).toBeCloseTo(plant.current(p)?.value as number, 3);
      }
      const exited = new Promise<number | null>((r) => child?.once('exit', (code) => r(code)));
      child?.kill('SIGINT');
      expect(await exited).toBe(0);
      child = undefined;
    }, 180_000);
  },
);
