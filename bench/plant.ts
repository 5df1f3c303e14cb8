/**
 * Plant emulator benchmark: wall time of an 8-hour shift at --speed 600 while serving every
 * endpoint to live clients (an OPC UA subscription on every press/weld node, a Modbus poller
 * reading the oven map every 100 ms, an MQTT subscriber on the Sparkplug group and the JSON
 * meter), plus the physics alone for comparison.
 *
 * Run: npx tsx bench/plant.ts [--speed 600] [--hours 8]   (needs Mosquitto on 127.0.0.1:1883)
 */
import { cpus, totalmem } from 'node:os';
import { ManualClock } from '@gemba/core';
import { startPlant } from '@gemba/plant';
import modbusSerial from 'modbus-serial';
import mqtt from 'mqtt';
import {
  AttributeIds,
  ClientMonitoredItem,
  ClientSubscription,
  OPCUAClient,
  TimestampsToReturn,
} from 'node-opcua';

const ModbusRTU = modbusSerial.default;
const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const speed = arg('speed', 600);
const hours = arg('hours', 8);
const untilMs = hours * 3_600_000;
const mqttUrl = 'mqtt://127.0.0.1:1883';

// 1. Physics alone (manual clock, no sockets).
const physicsClock = new ManualClock();
const physicsPlant = await startPlant({ clock: physicsClock, opcuaPort: false, modbusPort: false });
const physicsStart = performance.now();
physicsClock.advance(untilMs);
const physicsMs = performance.now() - physicsStart;
const physicsTotals = physicsPlant.totals();
await physicsPlant.stop();

// 2. Accelerated, every endpoint served to live clients.
const groupId = `bench-plant-${process.pid}`;
const jsonTopic = `bench/${groupId}/energy`;
const plant = await startPlant({
  speed,
  untilMs,
  mqttUrl,
  sparkplugGroupId: groupId,
  jsonTopic,
  controlPort: 0,
});
const wallStart = performance.now();

let mqttMessages = 0;
const sub = mqtt.connect(mqttUrl, { clientId: `${groupId}-sub` });
await new Promise((r) => sub.once('connect', r));
sub.on('message', () => {
  mqttMessages++;
});
await sub.subscribeAsync([`spBv1.0/${groupId}/#`, jsonTopic]);

const opcua = OPCUAClient.create({ endpointMustExist: false, connectionStrategy: { maxRetry: 1 } });
await opcua.connect(plant.endpoints.opcua as string);
const session = await opcua.createSession();
const subscription = ClientSubscription.create(session, {
  requestedPublishingInterval: 100,
  requestedLifetimeCount: 100,
  requestedMaxKeepAliveCount: 10,
  publishingEnabled: true,
});
let opcuaChanges = 0;
for (const b of plant.model.bindings) {
  if (!('nodeId' in b)) continue;
  const item = ClientMonitoredItem.create(
    subscription,
    { nodeId: b.nodeId, attributeId: AttributeIds.Value },
    { samplingInterval: 100, queueSize: 10, discardOldest: true },
    TimestampsToReturn.Both,
  );
  item.on('changed', () => {
    opcuaChanges++;
  });
}

const modbus = new ModbusRTU();
await modbus.connectTCP('127.0.0.1', { port: plant.endpoints.modbus?.port as number });
modbus.setID(1);
let modbusReads = 0;
let polling = true;
const poller = (async () => {
  while (polling) {
    await modbus.readInputRegisters(0, 24);
    await modbus.readHoldingRegisters(0, 8);
    modbusReads += 2;
    await new Promise((r) => setTimeout(r, 100));
  }
})();

await plant.done;
const wallMs = performance.now() - wallStart;
const totals = plant.totals();
const rssMb = process.memoryUsage().rss / 1e6;
polling = false;
await poller;
await subscription.terminate();
await session.close();
await opcua.disconnect();
await new Promise<void>((r) => modbus.close(() => r()));
await sub.endAsync();
await plant.stop();

const rows: [string, string][] = [
  [
    'machine',
    `${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}`,
  ],
  ['plant time', `${hours} h at speed ×${speed}`],
  [
    'wall time, all endpoints served',
    `${(wallMs / 1000).toFixed(1)} s (ideal ${(untilMs / speed / 1000).toFixed(1)} s)`,
  ],
  ['wall time, physics alone', `${(physicsMs / 1000).toFixed(2)} s`],
  [
    'parts finished / scrap',
    `${totals.finished} / ${totals.scrapped} (physics alone: ${physicsTotals.finished})`,
  ],
  ['OPC UA data changes received', String(opcuaChanges)],
  ['Modbus reads answered', String(modbusReads)],
  ['MQTT messages received', String(mqttMessages)],
  ['RSS', `${rssMb.toFixed(0)} MB`],
];
const w = Math.max(...rows.map((r) => r[0].length));
for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
console.log(
  JSON.stringify({
    bench: 'plant',
    speed,
    hours,
    wallS: Number((wallMs / 1000).toFixed(2)),
    idealWallS: untilMs / speed / 1000,
    physicsOnlyS: Number((physicsMs / 1000).toFixed(3)),
    finished: totals.finished,
    scrapped: totals.scrapped,
    opcuaChanges,
    modbusReads,
    mqttMessages,
    rssMb: Math.round(rssMb),
  }),
);
