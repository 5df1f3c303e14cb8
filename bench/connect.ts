// Connectivity throughput on this machine (issue 4):
//   1. OPC UA values/s received from one server with 10,000 monitored items (server in a child process);
//   2. Modbus registers/s over one connection to pymodbus (Debian python3-pymodbus), through
//      ModbusSource, and a bare modbus-serial request loop as the peer's ceiling;
//   3. Sparkplug B metrics/s decoded from Mosquitto (edge node in a child process, QoS 1).
// Run: npx tsx bench/connect.ts [--seconds 10] [--items 10000] [--change-ms 250] [--only opcua|modbus|sparkplug]
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createSource, type ModbusSource, type OpcuaSource, type SparkplugHostSource } from '@gemba/connect';
import { parseModel, RealClock, silentLogger } from '@gemba/core';
import modbusSerial from 'modbus-serial';
import { stringify } from 'yaml';
import { startPymodbus } from '../packages/connect/test/fixtures/pymodbus.ts';

const argv = process.argv;
const opt = (name: string, dflt: number): number => {
  const i = argv.indexOf(`--${name}`);
  return i > 0 ? Number(argv[i + 1]) : dflt;
};
const SECONDS = opt('seconds', 10);
const ITEMS = opt('items', 10_000);
const dir = mkdtempSync(join(tmpdir(), 'gemba-bench-connect-'));
const logger = silentLogger();
const clock = new RealClock();

function model(signals: number, sources: unknown[]) {
  const sig: Record<string, object> = {};
  for (let i = 0; i < signals; i++) sig[`v${i}`] = {};
  return parseModel(
    stringify({
      gemba: 1,
      enterprise: { id: 'acme' },
      types: { m: { signals: sig } },
      sites: [{ id: 'p', areas: [{ id: 'a', lines: [{ id: 'l', stations: [{ id: 's', type: 'm' }] }] }] }],
      sources: sources.map((s) => ({ base: 'acme/p/a/l/s', ...(s as object) })),
    }),
  );
}

function child(args: string[]): Promise<{ proc: ChildProcess; first: string; lines: string[] }> {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('./connect-peers.ts', import.meta.url)), ...args],
    {
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  const lines: string[] = [];
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`peer ${args[0]} did not start`)), 60_000);
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (l) => {
      lines.push(l);
      if (/^(opc\.tcp:|ready)/.test(l)) {
        clearTimeout(t);
        resolve({ proc, first: l, lines });
      }
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function benchOpcua(): Promise<Record<string, number>> {
  const intervalMs = opt('change-ms', 250);
  const peer = await child(['opcua', join(dir, 'server-pki'), String(ITEMS), String(intervalMs)]);
  process.stderr.write(`bench/connect: OPC UA server up at ${peer.first}\n`);
  const bindings = Array.from({ length: ITEMS }, (_, i) => ({ signal: `v${i}`, nodeId: `ns=1;s=bulk.${i}` }));
  const m = model(ITEMS, [
    { id: 'ua', protocol: 'opcua', endpoint: peer.first, samplingIntervalMs: 100, bindings },
  ]);
  const src = createSource(m.sources[0] as never, m, {
    logger,
    clock,
    dataDir: join(dir, 'client'),
  }) as OpcuaSource;
  let batches = 0;
  src.onBatch(() => {
    batches++;
  });
  const connected = new Promise<void>((r) => src.onStatus((s) => s.state === 'connected' && r()));
  const t0 = performance.now();
  await src.start();
  await connected;
  const setupS = (performance.now() - t0) / 1000;
  await sleep(2000);
  const v0 = src.counters.values;
  const t1 = performance.now();
  const cpu0 = process.cpuUsage();
  await sleep(SECONDS * 1000);
  const values = src.counters.values - v0;
  const s = (performance.now() - t1) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await src.stop();
  peer.proc.kill('SIGKILL');
  return {
    items: ITEMS,
    changeMs: intervalMs,
    offeredValuesPerSec: (ITEMS * 1000) / intervalMs,
    valuesPerSec: Math.round(values / s),
    subscribeSeconds: Math.round(setupS * 10) / 10,
    batches,
    // Gemba's process CPU over the window, % of one core: far below 100 means the peer limits.
    clientCpuPct: Math.round(((cpu.user + cpu.system) / 1e6 / s) * 100),
  };
}

async function benchModbus(): Promise<Record<string, number>> {
  const srv = await startPymodbus();
  // 1000 holding + 1000 input registers: 16 reads of at most 125 per round, one connection,
  // requests in series; polled every 1 ms (the shortest interval), so a round starts as soon
  // as the last one ends or 1 ms has passed.
  const bindings = Array.from({ length: 2000 }, (_, i) => ({
    signal: `v${i}`,
    table: i < 1000 ? 'holding' : 'input',
    address: i % 1000,
  }));
  const m = model(2000, [
    { id: 'mb', protocol: 'modbus', host: '127.0.0.1', port: srv.port, pollIntervalMs: 1, bindings },
  ]);
  const src = createSource(m.sources[0] as never, m, { logger, clock }) as ModbusSource;
  let samples = 0;
  src.onBatch((b) => {
    samples += b.length;
  });
  await src.start();
  await sleep(1000);
  const r0 = src.counters.registers;
  const q0 = src.counters.reads;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await sleep(SECONDS * 1000);
  const s = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const registers = src.counters.registers - r0;
  const reads = src.counters.reads - q0;
  await src.stop();
  // The peer's ceiling: a bare request loop on one connection, 125 registers per request.
  const client = new modbusSerial.default();
  await client.connectTCP('127.0.0.1', { port: srv.port });
  client.setID(1);
  let raw = 0;
  const t1 = performance.now();
  while (performance.now() - t1 < SECONDS * 1000) {
    await client.readHoldingRegisters(0, 125);
    raw += 125;
  }
  const rawS = (performance.now() - t1) / 1000;
  await new Promise<void>((r) => client.close(() => r()));
  await srv.stop();
  return {
    registersPerSec: Math.round(registers / s),
    readsPerSec: Math.round(reads / s),
    samplesPerSec: Math.round(samples / (s + 1)),
    clientCpuPct: Math.round(((cpu.user + cpu.system) / 1e6 / s) * 100),
    bareClientRegistersPerSec: Math.round(raw / rawS),
  };
}

async function benchSparkplug(): Promise<Record<string, number>> {
  const METRICS = 100;
  const group = `bench-${randomUUID().slice(0, 8)}`;
  const bindings = Array.from({ length: METRICS }, (_, i) => ({
    signal: `v${i}`,
    edgeNode: 'edge',
    device: 'dev',
    metric: `m${i}`,
  }));
  const m = model(METRICS, [
    {
      id: 'sp',
      protocol: 'sparkplug',
      url: 'mqtt://127.0.0.1:1883',
      groupId: group,
      hostId: `h-${group}`,
      bindings,
    },
  ]);
  const src = createSource(m.sources[0] as never, m, { logger, clock }) as SparkplugHostSource;
  const connected = new Promise<void>((r) => src.onStatus((s) => s.state === 'connected' && r()));
  await src.start();
  await connected;
  const peer = await child(['sparkplug', 'mqtt://127.0.0.1:1883', group, String(METRICS), String(SECONDS)]);
  const c0 = src.counters.metrics;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await new Promise<void>((r) => peer.proc.once('exit', () => r()));
  // Let the host drain what the broker still holds for it: until nothing new arrives for 300 ms.
  let last = -1;
  let tEnd = performance.now();
  while (src.counters.metrics !== last) {
    last = src.counters.metrics;
    tEnd = performance.now();
    await sleep(300);
  }
  const s = (tEnd - t0) / 1000;
  const metrics = src.counters.metrics - c0;
  const cpu = process.cpuUsage(cpu0);
  const published = Number(peer.lines.find((l) => l.startsWith('published'))?.split(' ')[1] ?? 0);
  await src.stop();
  return {
    metricsPerMessage: METRICS,
    metricsPerSec: Math.round(metrics / s),
    messagesPerSec: Math.round(metrics / METRICS / s),
    publishedMessages: published,
    decodedMessages: Math.round(metrics / METRICS),
    gaps: src.counters.gaps,
    clientCpuPct: Math.round(((cpu.user + cpu.system) / 1e6 / s) * 100),
  };
}

const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined;
const progress = (m: string): void => {
  process.stderr.write(`bench/connect: ${m}\n`);
};
const skipped: Record<string, number> = {};
progress('OPC UA');
const opcua = only === undefined || only === 'opcua' ? await benchOpcua() : skipped;
progress('Modbus');
const modbus = only === undefined || only === 'modbus' ? await benchModbus() : skipped;
progress('Sparkplug');
const sparkplug = only === undefined || only === 'sparkplug' ? await benchSparkplug() : skipped;
rmSync(dir, { recursive: true, force: true });

console.log('bench/connect — connectivity throughput, peers on 127.0.0.1');
console.log(
  `machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, node ${process.version}; ${SECONDS} s per measurement`,
);
console.log('| protocol | setup | figure |');
console.log('|---|---|---|');
console.log(
  `| OPC UA | ${opcua.items} monitored items, 1 server (node-opcua, child process), each changing every ${opcua.changeMs} ms, sampling 100 ms | ${opcua.valuesPerSec} values/s received (offered ${opcua.offeredValuesPerSec}/s; subscribe took ${opcua.subscribeSeconds} s; Gemba CPU ${opcua.clientCpuPct} %) |`,
);
console.log(
  `| Modbus TCP | pymodbus, 1 connection, 2000 registers (holding + input) in 16 reads of ≤ 125, polled every 1 ms | ${modbus.registersPerSec} registers/s (${modbus.readsPerSec} reads/s) via ModbusSource; bare modbus-serial loop: ${modbus.bareClientRegistersPerSec} registers/s; Gemba CPU ${modbus.clientCpuPct} % |`,
);
console.log(
  `| Sparkplug B | Mosquitto, 1 edge node (child process), DDATA of ${sparkplug.metricsPerMessage} aliased Doubles, QoS 1 | ${sparkplug.metricsPerSec} metrics/s decoded (${sparkplug.messagesPerSec} messages/s; ${sparkplug.decodedMessages}/${sparkplug.publishedMessages} messages, ${sparkplug.gaps} seq gaps; Gemba CPU ${sparkplug.clientCpuPct} %) |`,
);
console.log(JSON.stringify({ bench: 'connect', seconds: SECONDS, opcua, modbus, sparkplug }));
process.exit(0);
