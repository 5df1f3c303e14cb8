// Fixtures shared by the engine's unit tests: the demo line's model file and batches of its
// samples.
import { fileURLToPath } from 'node:url';
import {
  type Clock,
  loadModelFile,
  type Model,
  type Quality,
  type SampleBatch,
  SampleBatchBuilder,
  type SampleValue,
  silentLogger,
} from '@gemba/core';
import { afterEach, beforeAll } from 'vitest';
import { createEngine } from '../engine.ts';
import type { Engine } from '../engine-api.ts';

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

/**
 * Engines for one test file: the model is loaded once (the demo line unless `load` gives another),
 * and every engine `make` creates is stopped after its test.
 */
export function engineFixture(load: () => Model | Promise<Model> = () => loadModelFile(DEMO_PLANT_FILE)): {
  readonly model: Model;
  make(clock: Clock, extra?: Partial<Parameters<typeof createEngine>[0]>): Engine;
} {
  let model: Model | undefined;
  const engines: Engine[] = [];
  beforeAll(async () => {
    model = await load();
  });
  afterEach(async () => {
    for (const e of engines.splice(0)) await e.stop();
  });
  const loaded = (): Model => {
    if (model === undefined) throw new Error('the model is loaded before the tests run');
    return model;
  };
  return {
    get model(): Model {
      return loaded();
    },
    make(clock, extra = {}) {
      const e = createEngine({ model: loaded(), clock, logger: silentLogger(), ...extra });
      engines.push(e);
      return e;
    },
  };
}
