// Samples/s through the in-process bus: 1 publisher → 2 durable consumers, batches of 1,000 samples.
// Run: npx tsx bench/bus.ts [--batches 20000]
import { cpus } from 'node:os';
import { InProcessBus, type SampleBatch, SampleBatchBuilder } from '@gemba/core';

const BATCH = 1000;
const arg = process.argv.indexOf('--batches');
const BATCHES = arg > 0 ? Number(process.argv[arg + 1]) : 20_000;

function makeBatches(n: number): SampleBatch[] {
  const out: SampleBatch[] = [];
  for (let k = 0; k < n; k++) {
    const b = new SampleBatchBuilder(BATCH);
    for (let i = 0; i < BATCH; i++)
      b.pushNumber(`acme/plant1/assembly/line1/s${i % 100}/v${i}`, 1_700_000_000_000 + k, i);
    out.push(b.build());
  }
  return out;
}

async function run(): Promise<{ seconds: number; received: number }> {
  const bus = new InProcessBus({ maxMessages: 10_000 });
  // Pre-built batches (a pool reused round-robin) so the figure is the bus, not batch building.
  const pool = makeBatches(64);
  let received = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => {
    done = r;
  });
  const total = BATCHES * 2;
  for (const name of ['historian', 'engine']) {
    await bus.consume({ durable: name, filter: 'gemba.samples.>', maxAckPending: 1000 }, (m) => {
      received += m.batch.length;
      m.ack();
      if (received === total * BATCH) done();
    });
  }
  const t0 = performance.now();
  for (let i = 0; i < BATCHES; i++) {
    const p = bus.publish('gemba.samples.acme.plant1.assembly.line1', pool[i % pool.length] as SampleBatch);
    // Await only every 256th publish: a pipelining publisher, as the gateway does.
    if (i % 256 === 255) await p;
  }
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  await bus.close();
  return { seconds, received };
}

await run(); // warm-up
const results: number[] = [];
for (let r = 0; r < 3; r++) {
  const { seconds } = await run();
  results.push((BATCHES * BATCH) / seconds);
}
const best = Math.max(...results);
const median = results.sort((a, b) => a - b)[1] as number;
console.log('bench/bus — in-process bus, 1 publisher → 2 consumers, batches of 1,000 samples');
console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, node ${process.version}`);
console.log(
  '| runs | batches/run | published samples/s (median) | best | delivered samples/s (median, 2 consumers) |',
);
console.log('|---|---|---|---|---|');
console.log(
  `| 3 | ${BATCHES} | ${(median / 1e6).toFixed(1)} M | ${(best / 1e6).toFixed(1)} M | ${((2 * median) / 1e6).toFixed(1)} M |`,
);
console.log(
  JSON.stringify({
    bench: 'bus',
    bus: 'in-process',
    consumers: 2,
    batchSize: BATCH,
    publishedSamplesPerSec: Math.round(median),
    deliveredSamplesPerSec: Math.round(2 * median),
    bestPublishedSamplesPerSec: Math.round(best),
  }),
);
