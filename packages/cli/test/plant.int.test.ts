import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');
const BIN = join(ROOT, 'packages/cli/bin/gemba.js');
const START = '2026-01-05T06:00:00+01:00';
const START_MS = Date.parse(START);
const LINE = 'acme/plant1/assembly/line1';

const children = new Set<ChildProcess>();
const dirs: string[] = [];
afterEach(() => {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'gemba-plant-cli-'));
  dirs.push(d);
  return d;
}

interface Run {
  child: ChildProcess;
  /** Everything printed so far. */
  out(): string;
  exited: Promise<{ code: number | null; out: string; err: string }>;
}

/**
 * Spawns `gemba <args>`; killed after `timeoutMs` (the test then fails on its exit code). The
 * bound is generous: on a loaded shared machine tsx alone takes seconds to start the CLI.
 */
function gemba(args: string[], timeoutMs = 120_000): Run {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exited = new Promise<{ code: number | null; out: string; err: string }>((r) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      children.delete(child);
      r({ code, out, err });
    }),
  );
  return { child, out: () => out, exited };
}

/** `gemba plant` on ephemeral ports, without MQTT, with its own certificate folder. */
function plantArgs(dir: string, extra: string[]): string[] {
  return [
    'plant',
    '--opcua-port',
    '0',
    '--modbus-port',
    '0',
    '--no-mqtt',
    '--control-port',
    '0',
    '--pki-dir',
    join(dir, 'pki'),
    '--log-level',
    'error',
    ...extra,
  ];
}

interface TruthLine {
  ts: number;
  kind: string;
  station?: string;
  fault?: Record<string, unknown>;
}

const lines = (file: string): TruthLine[] =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as TruthLine);

describe('gemba plant from the command line', () => {
  it('writes byte-identical truth logs for the same --seed and --start, a different one for another seed', async () => {
    const dir = tmp();
    const run = (name: string, seed: string) =>
      gemba(
        plantArgs(join(dir, name), [
          '--seed',
          seed,
          '--start',
          START,
          '--until',
          '2h',
          '--speed',
          '3600',
          '--truth-log',
          join(dir, `${name}.jsonl`),
        ]),
      ).exited;
    const a = await run('a', '11');
    expect(a.code, a.err).toBe(0);
    const [b, c] = await Promise.all([run('b', '11'), run('c', '12')]);
    expect(b.code, b.err).toBe(0);
    expect(c.code, c.err).toBe(0);
    const [fa, fb, fc] = ['a', 'b', 'c'].map((n) => readFileSync(join(dir, `${n}.jsonl`)));
    expect(fa?.length).toBeGreaterThan(1000);
    expect(fa?.equals(fb as Buffer)).toBe(true);
    expect(fa?.equals(fc as Buffer)).toBe(false);
    // The plant clock started at --start and ran for --until of plant time.
    const events = lines(join(dir, 'a.jsonl'));
    expect(events[0]?.ts).toBeGreaterThanOrEqual(START_MS);
    expect(events.at(-1)?.ts).toBeLessThanOrEqual(START_MS + 2 * 3_600_000);
    expect(events.at(-1)?.ts).toBeGreaterThan(START_MS + 1.5 * 3_600_000);
    expect(
      events.filter((e) => e.kind === 'part-finish' && e.station === `${LINE}/pack`).length,
    ).toBeGreaterThan(100);
    expect(a.out).toMatch(/gemba plant: stopped after .* finished \d+/);
  }, 300_000);

  it('--inject breaks a station down at the start time', async () => {
    const dir = tmp();
    const log = join(dir, 'truth.jsonl');
    const fault = { kind: 'breakdown', station: 'weld', durationS: 600, faultCode: 4242 };
    const r = await gemba(
      plantArgs(dir, [
        '--start',
        START,
        '--until',
        '30m',
        '--speed',
        '3600',
        '--truth-log',
        log,
        '--inject',
        JSON.stringify(fault),
      ]),
    ).exited;
    expect(r.code, r.err).toBe(0);
    const events = lines(log);
    expect(events.find((e) => e.kind === 'injection')).toEqual({ ts: START_MS, kind: 'injection', fault });
    expect(events.find((e) => e.kind === 'failure' && e.station === `${LINE}/weld`)).toMatchObject({
      ts: START_MS,
      faultCode: 4242,
      repairS: 600,
    });
    expect(events.find((e) => e.kind === 'repair' && e.station === `${LINE}/weld`)?.ts).toBe(
      START_MS + 600_000,
    );
  }, 150_000);

  it('gemba plant-inject injects into a running emulator through its control endpoint, and refuses a bad fault', async () => {
    const dir = tmp();
    const log = join(dir, 'truth.jsonl');
    const plant = gemba(plantArgs(dir, ['--speed', '60', '--truth-log', log]));
    const deadline = Date.now() + 120_000;
    let control: string | undefined;
    while (control === undefined && Date.now() < deadline) {
      control = /control\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(plant.out())?.[1];
      if (control === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    expect(control, plant.out()).toBeDefined();
    const fault = { kind: 'breakdown', station: 'press', durationS: 120, faultCode: 77 };
    const ok = await gemba(['plant-inject', '--control', control as string, JSON.stringify(fault)]).exited;
    expect(ok.code, ok.err).toBe(0);
    expect(JSON.parse(ok.out)).toEqual({ ok: true, fault });
    const [bad, notJson] = await Promise.all([
      gemba([
        'plant-inject',
        '--control',
        control as string,
        JSON.stringify({ kind: 'breakdown', station: 'nowhere', durationS: 10 }),
      ]).exited,
      gemba(['plant-inject', '--control', control as string, '{kind:']).exited,
    ]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('nowhere');
    expect(notJson.code).toBe(1);
    expect(notJson.err).toContain("'{kind:' is not JSON");
    plant.child.kill('SIGINT');
    const stopped = await plant.exited;
    expect(stopped.code, stopped.err).toBe(0);
    const events = lines(log);
    const injected = events.find((e) => e.kind === 'injection');
    expect(injected?.fault).toEqual(fault);
    expect(events.find((e) => e.kind === 'failure' && e.station === `${LINE}/press`)).toMatchObject({
      ts: injected?.ts,
      faultCode: 77,
    });
  }, 400_000);
});
