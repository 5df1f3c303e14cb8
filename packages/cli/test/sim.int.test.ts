import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');
const BIN = join(ROOT, 'packages/cli/bin/gemba.js');
const DEMO = join(ROOT, 'examples/demo-line/plant.yaml');

function gemba(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe('gemba sim', () => {
  it('whatif prints JSON with paired differences and writes an SVG report', () => {
    const svg = join(mkdtempSync(join(tmpdir(), 'gemba-sim-')), 'whatif.svg');
    const r = gemba(
      'sim',
      'whatif',
      DEMO,
      '--set',
      'assembly.speed=+10%',
      '--set',
      'weld-oven.capacity=20',
      '--replications',
      '3',
      '--days',
      '1',
      '--warmup',
      '1',
      '--workers',
      '0',
      '--json',
      '--svg',
      svg,
    );
    expect(r.code, r.err).toBe(0);
    // Other libraries may print warnings on stdout; the result is the JSON line.
    const line = r.out.split('\n').find((l) => l.startsWith('{')) as string;
    const j = JSON.parse(line) as {
      baseline: { bottleneck: string; throughputPerHour: { mean: number } };
      scenarios: { name: string; throughputDiffPerHour: { mean: number; low: number } }[];
    };
    expect(j.baseline.bottleneck).toBe('assembly');
    expect(j.scenarios.map((s) => s.name)).toEqual(['assembly.speed=+10%', 'weld-oven.capacity=20']);
    expect(j.scenarios[0]?.throughputDiffPerHour.low).toBeGreaterThan(0);
    expect(readFileSync(svg, 'utf8')).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  });

  it('rejects a malformed change with one clear message', () => {
    const r = gemba('sim', 'whatif', DEMO, '--set', 'drill.speed=+10%', '--workers', '0');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^gemba: change 'drill.speed=\+10%': no station, buffer or oven zone 'drill'/m);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it('calibrate names a flag whose time is not a time', () => {
    const r = gemba(
      'sim',
      'calibrate',
      DEMO,
      '--historian',
      '/nonexistent/historian',
      '--from',
      '2026-01-05T05:00:00Z',
      '--to',
      '2026-01-05T13:00:00Z',
      '--failure-history-from',
      'yesterday',
    );
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^gemba: --failure-history-from yesterday is not a time/m);
  });
});
