import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');
const BIN = join(ROOT, 'packages/cli/bin/gemba.js');
const DEMO = join(ROOT, 'examples/demo-line/plant.yaml');

function gemba(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe('gemba command', () => {
  it('summarises a valid model', () => {
    const r = gemba('model', 'check', DEMO);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/sites\s+1\n/);
    expect(r.out).toMatch(/lines\s+1\n/);
    expect(r.out).toMatch(/stations\s+6\n/);
    expect(r.out).toMatch(/signals\s+65\n/);
    expect(r.out).toMatch(/bindings\s+65\n/);
  });

  it('lists five mistakes with line:column and exits 1, without a stack trace', () => {
    const bad = readFileSync(DEMO, 'utf8')
      .replace('type: press }', 'type: presss }')
      .replace('from: press, to: weld,', 'from: press, to: wled,')
      .replace('unit: mm/s', 'unit: mm/ss')
      .replace('{ signal: weld/state,', '{ signal: weld/stat,')
      .replace('  - id: opcua-press-weld\n', '  - id: opcua-press-weld\n    colour: blue\n');
    const file = join(mkdtempSync(join(tmpdir(), 'gemba-cli-')), 'bad.yaml');
    writeFileSync(file, bad);
    const r = gemba('model', 'check', file);
    expect(r.code).toBe(1);
    const lines = r.err.trim().split('\n');
    expect(lines.filter((l) => /:\d+:\d+ {2}/.test(l))).toHaveLength(5);
    for (const l of lines.slice(0, 5)) expect(l).toMatch(new RegExp(`^${file}:\\d+:\\d+  `));
    expect(lines.at(-1)).toBe(`${file}: 5 problems`);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it('prints the tree', () => {
    const r = gemba('model', 'tree', DEMO);
    expect(r.code).toBe(0);
    expect(r.out).toContain('oven [station: oven] Curing oven');
    expect(r.out).toContain('temperature (float °C, process_value) ← modbus-oven');
  });

  it('answers --help, --version, and refuses unknown commands and missing files clearly', () => {
    expect(gemba('--help').out).toContain('model');
    expect(gemba('model', 'check', '--help').out).toContain('every problem is listed');
    expect(gemba('--version').out.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const unknown = gemba('frobnicate');
    expect(unknown.code).not.toBe(0);
    expect(unknown.err).toContain("unknown command 'frobnicate'");
    const missing = gemba('model', 'check', '/nonexistent/plant.yaml');
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/^gemba: cannot read model file \/nonexistent\/plant.yaml/);
    expect(missing.err).not.toMatch(/\n\s+at /);
  });
});
