// End-to-end samples/s of the scaled-out platform: gateways → NATS JetStream → `gemba engine`
// processes → PostgreSQL, with 1 and with 2 engine processes, plus the latency from a gateway's
// publish to the live twin in NATS KV (p50/p99, idle and under load), and the CPU each process
// used (where the limit is). Needs /usr/sbin/nats-server (started here) and PostgreSQL on
// 127.0.0.1:5432 (a fresh schema per run, dropped afterwards).
// Run: npx tsx bench/scale.ts [--batches-per-line 150] [--engines 1,2]
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Model, parseModel, type SampleBatch, SampleBatchBuilder, subjectForPath } from '@gemba/core';
import { JetStreamBus, KvTwinStore } from '@gemba/nats';
import { multiLineModelYaml, NatsServerProcess } from '@gemba/nats/testing';
import { Kvm } from '@nats-io/kv';
import pg from 'pg';

const argOf = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const BATCHES_PER_LINE = Number(argOf('--batches-per-line') ?? 150);
const ENGINE_COUNTS = (argOf('--engines') ?? '1,2').split(',').map(Number);
const PG_URL = process.env.GEMBA_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const TICKS_PER_BATCH = 16;
const GEMBA = join(import.meta.dirname, '../packages/cli/bin/gemba.js');
const TICK_HZ = 100;

/** CPU seconds (user + system) of a process from /proc, 0 when gone. */
function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100/s)
  } catch {
    return 0;
  }
}

/** Every PostgreSQL server process (backends, WAL writer, checkpointer ...). */
function postgresPids(): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() === 'postgres') out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function postgresCpu(): number {
  return postgresPids().reduce((s, p) => s + cpuSeconds(p), 0);
}

/** A batch of TICKS_PER_BATCH ticks of every numeric signal of a line. */
function lineBatch(model: Model, line: string, firstTick: number, t0: number): SampleBatch {
  const sigs = model.signals.filter((s) => s.path.startsWith(`${line}/`));
  const b = new SampleBatchBuilder(sigs.length * TICKS_PER_BATCH);
  for (let k = 0; k < TICKS_PER_BATCH; k++) {
    const tick = firstTick + k;
    const ts = t0 + Math.round((tick * 1000) / TICK_HZ);
    for (const s of sigs) {
      const role = s.def.role;
      let v: number;
      if (role === 'state')
        v = 6; // PackML Execute
      else if (role === 'state_reason' || role === 'fault_code') v = 0;
      else if (role === 'part_counter' || role === 'good_counter') v = tick;
      else if (role === 'scrap_counter') v = 0;
      else v = 50 + 10 * Math.sin(tick / 50 + s.index);
      b.pushNumber(s.path, ts, v);
    }
  }
  return b.build();
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

interface RunFigures {
  engines: number;
  samples: number;
  seconds: number;
  samplesPerSec: number;
  publishSamplesPerSec: number;
  latencyIdleP50Ms: number;
  latencyIdleP99Ms: number;
  latencyLoadP50Ms: number;
  latencyLoadP99Ms: number;
  cpuPercent: Record<string, number>;
}

async function run(engineCount: number, yaml: string, model: Model): Promise<RunFigures> {
  const srv = await NatsServerProcess.start();
  const dir = mkdtempSync(join(tmpdir(), 'gemba-bench-scale-'));
  const modelFile = join(dir, 'plant.yaml');
  writeFileSync(modelFile, yaml);
  const schema = `bench_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const db = new pg.Client({ connectionString: PG_URL });
  await db.connect();
  const engines: ChildProcess[] = [];
  const gateways: JetStreamBus[] = [];
  try {
    for (let k = 0; k < engineCount; k++) {
      const args = [GEMBA, 'engine', modelFile, '--bus', srv.url, '--historian', PG_URL];
      args.push('--historian-schema', schema, '--member', `engine-${k + 1}`, '--lease-ms', '2000');
      args.push('--log-level', 'warn');
      // Engine logs (warnings and errors) go to a file kept after the run, for diagnosis.
      const logFile = join(tmpdir(), `gemba-bench-scale-engine-${engineCount}-${k + 1}.log`);
      const out = openSync(logFile, 'w');
      engines.push(spawn(process.execPath, args, { stdio: ['ignore', out, 'inherit'] }));
      closeSync(out);
    }
    const lines = model.lines.map((l) => l.path);
    const plants = [...new Set(lines.map((l) => l.split('/').slice(0, 2).join('/')))];
    for (const p of plants)
      gateways.push(await JetStreamBus.connect({ servers: srv.url, name: `gateway-${p}` }));
    const admin = gateways[0] as JetStreamBus;
    // Wait until every line has an owner and the owners are balanced.
    const share = Math.ceil(lines.length / engineCount);
    for (const deadline = Date.now() + 60_000; ; ) {
      const info = await admin.manager.streams
        .info('KV_gemba-leases', { subjects_filter: '$KV.gemba-leases.lease.>' })
        .catch(() => undefined);
      const owners = new Map<string, number>();
      if (info !== undefined) {
        const kv = await new Kvm(admin.connection).open('gemba-leases');
        for (const subject of Object.keys(info.state.subjects ?? {})) {
          const e = await kv.get(subject.slice('$KV.gemba-leases.'.length));
          if (e?.operation === 'PUT') owners.set(e.string(), (owners.get(e.string()) ?? 0) + 1);
        }
      }
      const owned = [...owners.values()];
      if (owned.reduce((a, b) => a + b, 0) === lines.length && owned.every((n) => n <= share)) break;
      if (Date.now() > deadline)
        throw new Error(`engines did not take the lines: ${JSON.stringify([...owners])}`);
      await new Promise((r) => setTimeout(r, 200));
    }

    // Latency probes: a speed setpoint per probe on line 1, seen in the twin KV bucket.
    const probeLine = lines[0] as string;
    const probeSignal = `${probeLine}/press/speed_setpoint`;
    // Probes and the twin watch on a connection of their own, apart from the loaded gateways.
    const probeGateway = await JetStreamBus.connect({ servers: srv.url, name: 'probe' });
    gateways.push(probeGateway);
    const twin = await KvTwinStore.open(probeGateway.connection);
    const sent = new Map<number, number>();
    const latencies: { idle: number[]; load: number[] } = { idle: [], load: [] };
    let phase: 'idle' | 'load' = 'idle';
    const watch = await twin.watch(
      probeSignal,
      (c) => {
        if (c.op !== 'put') return;
        const v = (c.entry as unknown as { value: number }).value;
        const at = sent.get(v);
        if (at !== undefined) {
          latencies[phase].push(performance.now() - at);
          sent.delete(v);
        }
      },
      { kind: 'value' },
    );
    let probeSeq = 1_000_000;
    const probe = async (): Promise<void> => {
      const v = ++probeSeq;
      const b = new SampleBatchBuilder(1);
      b.pushNumber(probeSignal, Date.now() + 10 * 86_400_000, v); // later than every load sample
      sent.set(v, performance.now());
      await probeGateway.publish(subjectForPath(probeLine), b.build());
    };
    // Idle: one probe every 300 ms (longer than the twin's flush period, so none is conflated away).
    for (let i = 0; i < 20; i++) {
      await probe();
      await new Promise((r) => setTimeout(r, 300));
    }

    // Load: every line publishes BATCHES_PER_LINE batches as fast as JetStream takes them.
    phase = 'load';
    const probeTimer = setInterval(() => void probe().catch(() => undefined), 300);
    const t0 = Date.now() - 86_400_000;
    const cpu0 = {
      engines: engines.map((p) => cpuSeconds(p.pid as number)),
      nats: cpuSeconds(srv.pid ?? 0),
      postgres: postgresCpu(),
      gateways: process.cpuUsage(),
    };
    const start = performance.now();
    const perLineSamples = model.signals.filter((s) => s.path.startsWith(`${probeLine}/`)).length;
    const total = lines.length * BATCHES_PER_LINE * TICKS_PER_BATCH * perLineSamples;
    await Promise.all(
      plants.map(async (p, gi) => {
        const gw = gateways[gi] as JetStreamBus;
        const mine = lines.filter((l) => l.startsWith(`${p}/`));
        const window: Promise<unknown>[] = [];
        for (let b = 0; b < BATCHES_PER_LINE; b++) {
          for (const line of mine) {
            window.push(gw.publish(subjectForPath(line), lineBatch(model, line, b * TICKS_PER_BATCH, t0)));
            while (window.length > 64) await window.shift();
          }
        }
        await Promise.all(window);
      }),
    );
    const publishSeconds = (performance.now() - start) / 1000;
    let stored = 0;
    for (const deadline = Date.now() + 300_000; ; ) {
      const r = await db.query(`SELECT count(*)::int8 AS n FROM "${schema}".raw WHERE ts < $1`, [Date.now()]);
      stored = Number(r.rows[0].n);
      if (stored >= total) break;
      if (Date.now() > deadline) throw new Error(`historian holds ${stored} of ${total} samples after 5 min`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const seconds = (performance.now() - start) / 1000;
    clearInterval(probeTimer);
    const gwCpu = process.cpuUsage(cpu0.gateways);
    const cpuPercent: Record<string, number> = {};
    engines.forEach((p, k) => {
      cpuPercent[`engine-${k + 1}`] =
        (100 * (cpuSeconds(p.pid as number) - (cpu0.engines[k] as number))) / seconds;
    });
    cpuPercent['nats-server'] = (100 * (cpuSeconds(srv.pid ?? 0) - cpu0.nats)) / seconds;
    cpuPercent.postgres = (100 * (postgresCpu() - cpu0.postgres)) / seconds;
    cpuPercent['gateways (bench process)'] = (100 * (gwCpu.user + gwCpu.system)) / 1e6 / seconds;
    watch.stop();
    const idle = latencies.idle.sort((a, b) => a - b);
    const load = latencies.load.sort((a, b) => a - b);
    return {
      engines: engineCount,
      samples: total,
      seconds,
      samplesPerSec: total / seconds,
      publishSamplesPerSec: total / publishSeconds,
      latencyIdleP50Ms: percentile(idle, 50),
      latencyIdleP99Ms: percentile(idle, 99),
      latencyLoadP50Ms: percentile(load, 50),
      latencyLoadP99Ms: percentile(load, 99),
      cpuPercent,
    };
  } finally {
    await Promise.all(
      engines.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null || p.signalCode !== null) return resolve();
            p.once('exit', () => resolve());
            p.kill('SIGTERM');
          }),
      ),
    );
    for (const g of gateways) await g.close();
    await srv.cleanup();
    await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await db.end();
    rmSync(dir, { recursive: true, force: true });
  }
}

const yaml = multiLineModelYaml(readFileSync('examples/demo-line/plant.yaml', 'utf8'), 2, 3);
const model = parseModel(yaml, 'bench-scale.yaml');
const results: RunFigures[] = [];
for (const n of ENGINE_COUNTS) results.push(await run(n, yaml, model));

console.log(
  `bench/scale — gateways → NATS JetStream → gemba engine ×N → PostgreSQL; ${model.lines.length} lines (2 plants × 3), ${model.signals.length} signals, batches of ${TICKS_PER_BATCH} ticks × 65 signals`,
);
console.log(
  `machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, node ${process.version}; all processes on this machine`,
);
console.log(
  '| engines | samples | end-to-end samples/s (into PostgreSQL) | published samples/s | gateway→twin p50 / p99 idle | p50 / p99 under load | CPU % per process |',
);
console.log('|---|---|---|---|---|---|---|');
for (const r of results) {
  const cpu = Object.entries(r.cpuPercent)
    .map(([k, v]) => `${k} ${v.toFixed(0)}`)
    .join(', ');
  console.log(
    `| ${r.engines} | ${r.samples} | ${(r.samplesPerSec / 1e3).toFixed(0)} k | ${(r.publishSamplesPerSec / 1e3).toFixed(0)} k | ${r.latencyIdleP50Ms.toFixed(0)} / ${r.latencyIdleP99Ms.toFixed(0)} ms | ${r.latencyLoadP50Ms.toFixed(0)} / ${r.latencyLoadP99Ms.toFixed(0)} ms | ${cpu} |`,
  );
}
console.log(
  JSON.stringify({
    bench: 'scale',
    lines: model.lines.length,
    signals: model.signals.length,
    runs: results.map((r) => ({
      engines: r.engines,
      samples: r.samples,
      samplesPerSec: Math.round(r.samplesPerSec),
      publishedSamplesPerSec: Math.round(r.publishSamplesPerSec),
      latencyIdleP50Ms: Math.round(r.latencyIdleP50Ms),
      latencyIdleP99Ms: Math.round(r.latencyIdleP99Ms),
      latencyLoadP50Ms: Math.round(r.latencyLoadP50Ms),
      latencyLoadP99Ms: Math.round(r.latencyLoadP99Ms),
      cpuPercent: Object.fromEntries(Object.entries(r.cpuPercent).map(([k, v]) => [k, Math.round(v)])),
    })),
  }),
);
