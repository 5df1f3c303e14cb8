import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ManualClock, type SampleBatch } from '@gemba/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseFault } from './faults.ts';
import { INJECTED_FAULT_CODE } from './physics.ts';
import { type Plant, startPlant } from './plant.ts';
import type { TruthEvent } from './truth.ts';

const LINE = 'acme/plant1/assembly/line1';

/** A plant with no sockets but the control endpoint, driven by a manual clock. */
async function quietPlant(clock: ManualClock, extra: Parameters<typeof startPlant>[0] = {}): Promise<Plant> {
  return startPlant({ clock, seed: 7, opcuaPort: false, modbusPort: false, ...extra });
}

describe('the in-process tap', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'gemba-plant-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('emits every value change with its emulator timestamp, identical for the same seed', async () => {
    const collect = async (): Promise<{ rows: string[]; truth: string }> => {
      const clock = new ManualClock();
      const truthFile = path.join(dir, `truth-${Math.random()}.jsonl`);
      const plant = await quietPlant(clock, { truthLogFile: truthFile });
      const rows: string[] = [];
      const off = plant.onSamples((b: SampleBatch) => {
        for (let i = 0; i < b.length; i++) rows.push(`${b.signals[i]}@${b.ts[i]}=${b.num[i]}`);
      });
      clock.advance(30 * 60_000);
      off();
      await plant.stop();
      return { rows, truth: await readFile(truthFile, 'utf8') };
    };
    const a = await collect();
    const b = await collect();
    expect(a.rows.length).toBeGreaterThan(1000);
    expect(b.rows).toEqual(a.rows);
    expect(b.truth).toBe(a.truth);
    const events = a.truth
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as TruthEvent);
    expect(events.some((e) => e.kind === 'part-finish' && e.station === `${LINE}/pack`)).toBe(true);
    // Counters on the tap match the ground truth exactly.
    const packGood = a.rows.filter((r) => r.startsWith(`${LINE}/pack/parts_good@`)).at(-1);
    const finished = events.filter(
      (e) => e.kind === 'part-finish' && e.station === `${LINE}/pack` && e.outcome === 'good',
    );
    expect(Number(packGood?.split('=')[1])).toBe(finished.length);
  });

  it('writes the hidden parameters on request', async () => {
    const file = path.join(dir, 'hidden.json');
    const plant = await quietPlant(new ManualClock(), { hiddenParamsFile: file, seed: 42 });
    await plant.stop();
    const hidden = JSON.parse(await readFile(file, 'utf8')) as {
      seed: number;
      emulator: { stations: object };
    };
    expect(hidden.seed).toBe(42);
    expect(Object.keys(hidden.emulator.stations)).toContain('assembly');
  });

  it('resolves done after untilMs of plant time', async () => {
    const clock = new ManualClock();
    const plant = await quietPlant(clock, { untilMs: 60_000 });
    let done = false;
    void plant.done.then(() => {
      done = true;
    });
    clock.advance(59_000);
    await Promise.resolve();
    expect(done).toBe(false);
    clock.advance(2000);
    await plant.done;
    expect(plant.physics.nowMs).toBeLessThanOrEqual(clock.now());
    await plant.stop();
  });
});

describe('fault injection', () => {
  let clock: ManualClock;
  let plant: Plant;
  beforeEach(async () => {
    clock = new ManualClock();
    plant = await quietPlant(clock, { controlPort: 0 });
    clock.advance(5 * 60_000);
  });
  afterEach(async () => {
    await plant.stop();
  });

  it('breaks a station through the control endpoint and repairs it after the duration', async () => {
    const res = await fetch(`${plant.endpoints.control}/inject`, {
      method: 'POST',
      body: JSON.stringify({ kind: 'breakdown', station: 'weld', durationS: 120 }),
    });
    expect(res.status).toBe(200);
    expect(plant.current(`${LINE}/weld/state`)?.value).toBe(9);
    expect(plant.current(`${LINE}/weld/fault_code`)?.value).toBe(INJECTED_FAULT_CODE);
    clock.advance(121_000);
    expect(plant.current(`${LINE}/weld/state`)?.value).not.toBe(9);
    expect(plant.current(`${LINE}/weld/fault_code`)?.value).toBe(0);
  });

  it('answers bad requests with a code', async () => {
    const res = await fetch(`${plant.endpoints.control}/inject`, {
      method: 'POST',
      body: JSON.stringify({ kind: 'breakdown', station: 'weld' }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe('GEMBA_INVALID_ARGUMENT');
    const status = (await (await fetch(`${plant.endpoints.control}/status`)).json()) as { seed: number };
    expect(status.seed).toBe(7);
    const write = await fetch(`${plant.endpoints.control}/write`, {
      method: 'POST',
      body: JSON.stringify({ signal: `${LINE}/oven/zone2/setpoint`, value: 175 }),
    });
    expect(write.status).toBe(200);
    expect(plant.current(`${LINE}/oven/zone2/setpoint`)?.value).toBe(175);
  });

  it('spikes, freezes and drifts a sensor on the tap', async () => {
    const signal = `${LINE}/oven/zone2/temperature`;
    const seen: number[] = [];
    plant.onSamples((b) => {
      for (let i = 0; i < b.length; i++) if (b.signals[i] === signal) seen.push(b.num[i] as number);
    });
    await plant.inject({ kind: 'spike', signal, value: 999, durationS: 2 });
    expect(plant.current(signal)?.value).toBe(999);
    clock.advance(3000);
    expect(plant.current(signal)?.value).toBeLessThan(300);
    await plant.inject({ kind: 'freeze', signal, durationS: 60 });
    const frozen = plant.current(signal)?.value;
    seen.length = 0;
    clock.advance(30_000);
    expect(seen).toEqual([]);
    expect(plant.current(signal)?.value).toBe(frozen);
    clock.advance(31_000);
    await plant.inject({ kind: 'drift', signal, perHour: 60, durationS: 3600 });
    clock.advance(30 * 60_000);
    expect((plant.current(signal)?.value as number) - plant.physics.zoneTemperature('zone2')).toBeGreaterThan(
      25,
    );
    expect(() => parseFault({ kind: 'drift', signal, durationS: 1 })).toThrow(/perHour/);
  });
});
