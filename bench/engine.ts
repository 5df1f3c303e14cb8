// Samples/s through the engine (enrich → state → windows → anomalies → alarms → twin → change
// feed) for 10,000 signals on one core, and the latency from a sample being due at the engine
// to its change leaving the change feed at 100,000 samples/s.
// Run: npx tsx bench/engine.ts [--samples 4000000] [--latency-seconds 5]
import { cpus, loadavg } from 'node:os';
import {
  type Clock,
  decodeBatch,
  encodeBatch,
  ManualClock,
  parseModel,
  RealClock,
  type SampleBatch,
  SampleBatchBuilder,
  silentLogger,
} from '@gemba/core';
import { createEngine, type TwinChange } from '@gemba/engine';

const argOf = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const SAMPLES = argOf('--samples', 4_000_000);
const LATENCY_S = argOf('--latency-seconds', 5);
const STATIONS = 10;
const EQUIPMENT = 10; // per station
const PER_EQUIPMENT = 100; // signals
const SIGNALS = STATIONS * EQUIPMENT * PER_EQUIPMENT;
const BATCH = 1000;

// A synthetic line: 10 stations, each with 10 sensor blocks of 100 process values with normal
// ranges and alarm limits (so every sample goes through windows, anomalies and alarms).
function syntheticModel(): string {
  const sig = Array.from(
    { length: PER_EQUIPMENT },
    (_, k) =>
      `      v${k}: { unit: "°C", role: process_value, periodMs: 100, normal: { min: 40, max: 60 }, limits: { lo: 30, hi: 70, deadband: 0.5 } }`,
  ).join('\n');
  const stations = Array.from({ length: STATIONS }, (_, s) => {
    const eq = Array.from(
      { length: EQUIPMENT },
      (_, e) => `                  - { id: e${e}, type: block }`,
    ).join('\n');
    return `              - id: s${s}\n                type: station\n                equipment:\n${eq}`;
  }).join('\n');
  return `gemba: 1
enterprise: { id: acme }
types:
  station:
    signals:
      state: { dataType: int, role: state, enum: packml }
      parts_total: { dataType: uint, role: part_counter }
  block:
    signals:
${sig}
sites:
  - id: p
    areas:
      - id: a
        lines:
          - id: l
            stations:
${stations}
products:
  - { id: w, idealCycleTimeS: { s0: 10 } }
`;
}

const model = parseModel(syntheticModel(), 'bench.yaml');
const paths = model.signals.filter((s) => s.def.role === 'process_value').map((s) => s.path);
if (paths.length !== SIGNALS) throw new Error(`expected ${SIGNALS} signals, got ${paths.length}`);
const T0 = Date.UTC(2026, 0, 5, 6, 0, 0);

/** Batches of 1,000 samples; each round of 10 batches gives every signal one new value 100 ms later. */
function makeBatches(samples: number, batch: number, t0: number, periodMs: number): SampleBatch[] {
  const out: SampleBatch[] = [];
  let seed = 12345;
  const rnd = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 4_294_967_296;
  };
  for (let n = 0; n < samples; n += batch) {
    const b = new SampleBatchBuilder(batch);
    for (let i = 0; i < batch; i++) {
      const k = n + i;
      const sig = k % SIGNALS;
      const round = Math.floor(k / SIGNALS);
      b.pushNumber(paths[sig] as string, t0 + round * periodMs, 50 + (rnd() - 0.5) * 4);
    }
    out.push(b.build());
  }
  return out;
}

/** Samples per second of wall time and per second of this process's CPU time (the machine may be shared). */
function throughputRun(batches: readonly SampleBatch[]): { wall: number; cpu: number } {
  const clock = new ManualClock(T0);
  const engine = createEngine({
    model,
    clock,
    logger: silentLogger(),
    tuning: { changeFeedCapacity: 1 << 20 },
  });
  let n = 0;
  const c0 = process.cpuUsage();
  const t = performance.now();
  for (const b of batches) {
    engine.ingest(b);
    n += b.length;
  }
  const s = (performance.now() - t) / 1000;
  const c = process.cpuUsage(c0);
  void engine.stop();
  return { wall: n / s, cpu: n / ((c.user + c.system) / 1e6) };
}

interface Percentiles {
  p50: number;
  p99: number;
  max: number;
}

function percentiles(values: number[]): Percentiles {
  values.sort((a, b) => a - b);
  const q = (p: number): number =>
    values[Math.min(values.length - 1, Math.floor(p * values.length))] as number;
  return { p50: q(0.5), p99: q(0.99), max: values[values.length - 1] as number };
}

/**
 * Feeds 100,000 samples/s in batches of 100 on a schedule. `engine`: from `ingest` being called
 * to the listener receiving the change (the engine's own latency); `due`: from the batch's
 * scheduled arrival (includes waiting for the event loop, GC and a shared CPU).
 */
async function latencyRun(): Promise<{
  engine: Percentiles;
  due: Percentiles;
  samples: number;
  rate: number;
}> {
  const RATE = 100_000;
  const PER_BATCH = 100;
  const total = RATE * LATENCY_S;
  const batches = makeBatches(total, PER_BATCH, Date.now(), 100);
  const clock: Clock = new RealClock();
  const engine = createEngine({ model, clock, logger: silentLogger() });
  const lat: number[] = [];
  const own: number[] = [];
  let due = 0;
  let entered = 0;
  engine.onChange((changes: readonly TwinChange[]) => {
    const now = performance.now();
    let signals = 0;
    for (const c of changes) if (c.kind === 'signal') signals++;
    for (let i = 0; i < signals; i++) {
      lat.push(now - due);
      own.push(now - entered);
    }
  });
  const start = performance.now() + 20;
  let k = 0;
  await new Promise<void>((resolve) => {
    const step = (): void => {
      const now = performance.now();
      while (k < batches.length) {
        const dueAt = start + (k * PER_BATCH * 1000) / RATE;
        if (dueAt > now) break;
        due = dueAt;
        entered = performance.now();
        engine.ingest(batches[k] as SampleBatch);
        k++;
      }
      if (k < batches.length) setImmediate(step);
      else resolve();
    };
    setImmediate(step);
  });
  const elapsed = (performance.now() - start) / 1000;
  await engine.stop();
  return { engine: percentiles(own), due: percentiles(lat), samples: lat.length, rate: total / elapsed };
}

const batches = makeBatches(SAMPLES, BATCH, T0, 100);
throughputRun(batches.slice(0, Math.min(batches.length, 500))); // warm-up
const runs = [throughputRun(batches), throughputRun(batches), throughputRun(batches)];
const rates = runs.map((r) => r.wall).sort((a, b) => a - b);
const cpuRates = runs.map((r) => r.cpu).sort((a, b) => a - b);
const median = rates[1] as number;
const cpuMedian = cpuRates[1] as number;
// The same data as it arrives from the bus: decoded batches whose signal strings are new
// objects (their hashes not yet computed), as in production.
const decoded = batches.slice(0, Math.min(batches.length, 1000)).map((b) => decodeBatch(encodeBatch(b)));
const decodedRun = throughputRun(decoded);
const decodedRate = decodedRun.wall;
const lat = await latencyRun();

console.log('bench/engine — enrich → state → windows → anomalies → alarms → twin → change feed');
console.log(
  `machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, node ${process.version}, one core; load average ${loadavg()[0]?.toFixed(1)}`,
);
console.log(
  `model: ${SIGNALS.toLocaleString('en')} process values (normal range + limits), batches of ${BATCH}`,
);
console.log('');
console.log('| figure | value |');
console.log('|---|---|');
console.log(
  `| throughput, median of 3 runs of ${SAMPLES.toLocaleString('en')} samples | ${Math.round(median).toLocaleString('en')} samples/s |`,
);
console.log(
  `| throughput per CPU-second (median) | ${Math.round(cpuMedian).toLocaleString('en')} samples/s |`,
);
console.log(`| throughput, runs | ${rates.map((r) => Math.round(r).toLocaleString('en')).join(' / ')} |`);
const rate = Math.round(lat.rate).toLocaleString('en');
console.log(
  `| latency ingest → change feed at ${rate} samples/s (batches of 100), p50 / p99 / max | ${lat.engine.p50.toFixed(3)} / ${lat.engine.p99.toFixed(3)} / ${lat.engine.max.toFixed(3)} ms |`,
);
console.log(
  `| latency scheduled arrival → change feed, p50 / p99 / max | ${lat.due.p50.toFixed(3)} / ${lat.due.p99.toFixed(3)} / ${lat.due.max.toFixed(3)} ms |`,
);
console.log(
  JSON.stringify({
    bench: 'engine',
    signals: SIGNALS,
    samplesPerSecond: Math.round(median),
    samplesPerCpuSecond: Math.round(cpuMedian),
    loadAverage: loadavg()[0],
    runs: rates.map(Math.round),
    decodedSamplesPerSecond: Math.round(decodedRate),
    latencyRate: Math.round(lat.rate),
    latencyP50Ms: Number(lat.engine.p50.toFixed(3)),
    latencyP99Ms: Number(lat.engine.p99.toFixed(3)),
    latencyMaxMs: Number(lat.engine.max.toFixed(3)),
    arrivalLatencyP50Ms: Number(lat.due.p50.toFixed(3)),
    arrivalLatencyP99Ms: Number(lat.due.p99.toFixed(3)),
    latencySamples: lat.samples,
    cores: cpus().length,
    node: process.version,
  }),
);
