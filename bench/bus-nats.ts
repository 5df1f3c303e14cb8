// Samples/s through the NATS JetStream bus: 1 publisher → 2 durable consumers, batches of 1,000
// samples (and 100 for comparison), file storage, for comparison with bench/bus.ts (in-process).
// Starts its own nats-server (needs /usr/sbin/nats-server) unless given --url.
// Run: npx tsx bench/bus-nats.ts [--batches 5000] [--url nats://127.0.0.1:4222]
import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { type SampleBatch, SampleBatchBuilder } from '@gemba/core';
import { JetStreamBus } from '@gemba/nats';
import { NatsServerProcess } from '@gemba/nats/testing';

const argOf = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const BATCHES = Number(argOf('--batches') ?? 5_000);
const URL = argOf('--url');

function makeBatches(n: number, size: number): SampleBatch[] {
  const out: SampleBatch[] = [];
  for (let k = 0; k < n; k++) {
    const b = new SampleBatchBuilder(size);
    for (let i = 0; i < size; i++)
      b.pushNumber(`acme/plant1/assembly/line1/s${i % 100}/v${i}`, 1_700_000_000_000 + k, i);
    out.push(b.build());
  }
  return out;
}

interface RunResult {
  batchSize: number;
  batches: number;
  publishSeconds: number;
  seconds: number;
  bytesPerBatch: number;
}

async function run(url: string, batchSize: number, batches: number): Promise<RunResult> {
  const site = `b${randomUUID().replaceAll('-', '').slice(0, 8)}`;
  const subject = `gemba.samples.bench.${site}.assembly.line1`;
  const opts = { layout: { namePrefix: 'BENCH' }, maxInFlightPublishes: 256 } as const;
  const pub = await JetStreamBus.connect({ servers: url, name: 'bench-publisher' }, opts);
  const subs = [
    await JetStreamBus.connect({ servers: url, name: 'bench-historian' }, opts),
    await JetStreamBus.connect({ servers: url, name: 'bench-engine' }, opts),
  ];
  const pool = makeBatches(64, batchSize);
  const total = batches * batchSize * subs.length;
  let received = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => {
    done = r;
  });
  for (const [k, bus] of subs.entries()) {
    await bus.consume(
      { durable: `c${k}`, filter: `gemba.samples.bench.${site}.>`, maxAckPending: 1_000 },
      (m) => {
        received += m.batch.length;
        m.ack();
        if (received === total) done();
      },
    );
  }
  const t0 = performance.now();
  const window: Promise<unknown>[] = [];
  for (let i = 0; i < batches; i++) {
    // Pipelined: up to 256 publishes awaiting their acknowledgement (DESIGN.md).
    window.push(pub.publish(subject, pool[i % pool.length] as SampleBatch));
    if (window.length >= 256) await window.shift();
  }
  await Promise.all(window);
  const publishSeconds = (performance.now() - t0) / 1000;
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  const info = await pub.manager.streams.info(`BENCH_bench_${site}`);
  const bytesPerBatch = info.state.bytes / info.state.messages;
  await Promise.all(subs.map((b) => b.close()));
  await pub.manager.streams.delete(`BENCH_bench_${site}`);
  await pub.close();
  return { batchSize, batches, publishSeconds, seconds, bytesPerBatch };
}

const own = URL === undefined ? await NatsServerProcess.start() : undefined;
const url = URL ?? (own as NatsServerProcess).url;
try {
  await run(url, 1000, Math.min(BATCHES, 500)); // warm-up
  const rows: { batchSize: number; results: RunResult[] }[] = [];
  for (const [batchSize, batches] of [
    [1000, BATCHES],
    [100, BATCHES * 2],
  ] as const) {
    const results: RunResult[] = [];
    for (let r = 0; r < 3; r++) results.push(await run(url, batchSize, batches));
    rows.push({ batchSize, results });
  }
  console.log(
    'bench/bus-nats — JetStream bus, 1 publisher → 2 durable pull consumers, file storage, one process',
  );
  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, node ${process.version}, server ${url}`,
  );
  console.log(
    '| batch size | batches/run | published samples/s (median) | delivered samples/s (median, 2 consumers) | stored bytes/sample |',
  );
  console.log('|---|---|---|---|---|');
  const json: Record<string, number | string>[] = [];
  for (const { batchSize, results } of rows) {
    const pubRates = results.map((r) => (r.batches * r.batchSize) / r.publishSeconds).sort((a, b) => a - b);
    const endRates = results.map((r) => (r.batches * r.batchSize) / r.seconds).sort((a, b) => a - b);
    const pubMedian = pubRates[1] as number;
    const endMedian = endRates[1] as number;
    const bytesPerSample = (results[0]?.bytesPerBatch ?? 0) / batchSize;
    console.log(
      `| ${batchSize} | ${results[0]?.batches} | ${(pubMedian / 1e6).toFixed(2)} M | ${((2 * endMedian) / 1e6).toFixed(2)} M | ${bytesPerSample.toFixed(1)} |`,
    );
    json.push({
      batchSize,
      publishedSamplesPerSec: Math.round(pubMedian),
      endToEndSamplesPerSec: Math.round(endMedian),
      deliveredSamplesPerSec: Math.round(2 * endMedian),
      storedBytesPerSample: Number(bytesPerSample.toFixed(1)),
    });
  }
  console.log(
    JSON.stringify({ bench: 'bus-nats', bus: 'nats-jetstream', consumers: 2, storage: 'file', runs: json }),
  );
} finally {
  await own?.cleanup();
}
