// The engine's anomaly detection against sensor faults injected into the plant emulator:
// a frozen oven-zone sensor, a spike, and a drift.
import { ManualClock, SampleBatchBuilder, silentLogger } from '@gemba/core';
import { createEngine } from '@gemba/engine';
import { startPlant } from '@gemba/plant';
import { describe, expect, it } from 'vitest';

describe('engine against sensor faults injected into the plant emulator', () => {
  it('flags a frozen sensor, a spike and a drift', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 5, 6, 0, 0));
    const plant = await startPlant({ clock, seed: 11, opcuaPort: false, modbusPort: false, tickMs: 1000 });
    const model = plant.model;
    const engine = createEngine({ model, clock, logger: silentLogger() });
    const initial = new SampleBatchBuilder();
    for (const sig of model.signals) {
      const v = plant.current(sig.path);
      if (v !== undefined) initial.push(sig.path, v.ts, v.value);
    }
    engine.ingest(initial.build());
    plant.onSamples((b) => engine.ingest(b));
    const L = model.lines[0]?.path ?? '';
    const zone1 = `${L}/oven/zone1/temperature`;
    const zone3 = `${L}/oven/zone3/temperature`;
    const heater = `${L}/oven/zone1/heater_output`;
    const advanceMin = (min: number): void => {
      for (let m = 0; m < min; m++) clock.advance(60_000);
    };
    advanceMin(45); // baselines (600 samples, 30 minute means)
    const frozeAt = clock.now();
    await plant.inject({ kind: 'freeze', signal: zone1, durationS: 600 });
    advanceMin(2);
    const stuck = engine.anomalies(frozeAt).find((a) => a.signal === zone1 && a.kind === 'stuck');
    expect(stuck, 'frozen zone 1 sensor flagged').toBeDefined();
    expect((stuck?.ts ?? Number.POSITIVE_INFINITY) - frozeAt).toBeLessThan(60_000);
    advanceMin(10);
    const spikeAt = clock.now();
    await plant.inject({ kind: 'spike', signal: zone3, value: 260, durationS: 2 });
    advanceMin(1);
    const spike = engine
      .anomalies(spikeAt)
      .filter((a) => a.signal === zone3)
      .map((a) => a.kind);
    expect(spike).toContain('rate-of-change');
    expect(spike).toContain('limit');
    // The 2 s spike is shorter than the hihi alarm's 10 s on-delay: no alarm (ISA-18.2 anti-chatter).
    expect(engine.alarms({ all: true }).find((a) => a.id === `${zone3}:hihi`)?.state).toBe('normal');
    const driftAt = clock.now();
    await plant.inject({ kind: 'drift', signal: heater, perHour: 60, durationS: 3600 });
    advanceMin(30);
    const drift = engine
      .anomalies(driftAt)
      .filter((a) => a.signal === heater)
      .map((a) => a.kind);
    expect(drift.some((k) => k === 'ewma' || k === 'cusum' || k === 'trend')).toBe(true);
    await engine.stop();
    await plant.stop();
  }, 120_000);
});
