import { loadModelFile } from '@gemba/core';
import { describe, expect, it } from 'vitest';
import { buildLineModel, plannedStopsFromShifts } from './build-line-model.ts';
import { simulateLine } from './line-sim.ts';

const demo = new URL('../../../../examples/demo-line/plant.yaml', import.meta.url).pathname;

describe('buildLineModel on the demo plant', () => {
  it('builds the six stations, five buffers, oven zones and shift breaks', async () => {
    const model = await loadModelFile(demo);
    const start = Date.parse('2026-01-05T06:00:00+01:00');
    const cfg = buildLineModel(model, {}, { startMs: start });
    expect(cfg.line).toBe('acme/plant1/assembly/line1');
    expect(cfg.stations.map((s) => s.id)).toEqual(['press', 'weld', 'oven', 'assembly', 'test', 'pack']);
    expect(cfg.buffers.map((b) => [b.id, b.capacity])).toEqual([
      ['press-weld', 10],
      ['weld-oven', 10],
      ['oven-assembly', 8],
      ['assembly-test', 10],
      ['test-pack', 10],
    ]);
    expect(cfg.stations[3]?.cycleTime).toEqual({ family: 'deterministic', value: 24 });
    expect(cfg.oven?.zones.map((z) => z.id)).toEqual(['zone1', 'zone2', 'zone3']);
    expect(cfg.oven?.qualityZone).toBe('zone2');
    expect(cfg.oven?.targetC).toBe(180);
    // Breaks at 10:00, 18:00 and 02:00 local = 4 h, 12 h and 20 h after a 06:00 start.
    expect(cfg.plannedStops.map((p) => p.offsetS / 3600).sort((a, b) => a - b)).toEqual([4, 12, 20]);
    expect(plannedStopsFromShifts(model, start).every((p) => p.durationS === 1800)).toBe(true);
  });

  it('simulates the ideal demo line at the slowest ideal cycle less the breaks', async () => {
    const model = await loadModelFile(demo);
    const cfg = buildLineModel(model, {}, { startMs: Date.parse('2026-01-05T06:00:00+01:00') });
    const r = simulateLine(cfg, { seed: 1, horizonS: 7 * 86_400, warmupS: 3600 });
    expect(r.bottleneck).toBe('assembly');
    expect(r.throughputPerHour).toBeCloseTo((3600 / 24) * (1 - 1.5 / 24), 0);
  });

  it('applies calibrated parameters', async () => {
    const model = await loadModelFile(demo);
    const cfg = buildLineModel(model, {
      stations: {
        weld: {
          speed: 1.1,
          failures: {
            basis: 'operating-time',
            between: { family: 'exponential', mean: 3600 },
            repair: { family: 'exponential', mean: 300 },
          },
        },
      },
      buffers: { 'weld-oven': 20 },
      oven: { zones: { zone2: { setpointC: 175 } }, scrapLogit: { a: -5, b: 0.2 } },
    });
    expect(cfg.stations[1]?.speed).toBe(1.1);
    expect(cfg.stations[1]?.failures?.basis).toBe('operating-time');
    expect(cfg.buffers[1]?.capacity).toBe(20);
    expect(cfg.oven?.zones[1]?.setpointC).toBe(175);
  });
});
