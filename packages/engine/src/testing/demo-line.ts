// Fixtures shared by the engine's unit tests: the demo line's model file and batches of its
// samples.
import { fileURLToPath } from 'node:url';
import { type Quality, type SampleBatch, SampleBatchBuilder, type SampleValue } from '@gemba/core';

/** The demo line's plant model file. */
export const DEMO_PLANT_FILE = fileURLToPath(
  new URL('../../../../examples/demo-line/plant.yaml', import.meta.url),
);
/** The demo line's path. */
export const L = 'acme/plant1/assembly/line1';

/** A batch of `[signal below the line, source time ms, value, quality (default good)]` rows. */
export function batch(rows: Array<[string, number, SampleValue, Quality?]>): SampleBatch {
  const b = new SampleBatchBuilder(rows.length);
  for (const [s, ts, v, q] of rows) b.push(`${L}/${s}`, ts, v, q ?? 'good');
  return b.build();
}
