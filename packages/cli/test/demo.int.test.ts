import { type ChildProcess, spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');
const BIN = join(ROOT, 'packages/cli/bin/gemba.js');

let child: ChildProcess | undefined;
afterEach(() => {
  child?.kill('SIGKILL');
  child = undefined;
});

/** Starts `gemba demo` and resolves with what it printed once the dashboard URL is out. */
function startDemo(args: string[]): Promise<string> {
  return new Promise((resolveOut, reject) => {
    child = spawn(process.execPath, [BIN, 'demo', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(
      () => reject(new Error(`gemba demo printed no URL in 90 s\n${out}\n${err}`)),
      90_000,
    );
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (/admin token/.test(out)) {
        clearTimeout(timer);
        resolveOut(out);
      }
    });
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gemba demo exited with ${code}\n${out}\n${err}`));
    });
  });
}

describe('gemba demo (the README run command), with nothing but the repository', () => {
  it('serves the live demo line with every station reading over its protocol, and stops on SIGINT', async () => {
    const out = await startDemo(['--port', '0', '--speed', '20']);
    const m = /dashboard\s+(http:\/\/127\.0\.0\.1:\d+)\/\?token=(\S+)/.exec(out);
    expect(m).not.toBeNull();
    const [, url, token] = m as RegExpExecArray;
    const auth = { authorization: `Bearer ${token}` };
    expect((await fetch(`${url}/api/model`)).status).toBe(401);
    const model = (await (await fetch(`${url}/api/model`, { headers: auth })).json()) as {
      lines: { stations: unknown[] }[];
    };
    expect(model.lines[0]?.stations).toHaveLength(6);
    // Every station gets live data over its own protocol: OPC UA, Modbus TCP, Sparkplug B.
    const deadline = Date.now() + 45_000;
    let states: Record<string, unknown> = {};
    while (Date.now() < deadline) {
      const twin = (await (
        await fetch(`${url}/api/twin?pattern=${encodeURIComponent('acme/plant1/assembly/line1/+/state')}`, {
          headers: auth,
        })
      ).json()) as { entries: { path: string; value?: unknown; quality?: string }[] };
      states = Object.fromEntries(
        twin.entries.filter((e) => e.quality === 'good').map((e) => [e.path.split('/').at(-2), e.value]),
      );
      if (Object.keys(states).length === 6) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(Object.keys(states).sort()).toEqual(['assembly', 'oven', 'pack', 'press', 'test', 'weld']);
    const index = await fetch(`${url}/`);
    expect(index.status).toBe(200);
    expect(await index.text()).toContain('<script');
    const exited = new Promise<number | null>((r) => child?.once('exit', (code) => r(code)));
    child?.kill('SIGINT');
    expect(await exited).toBe(0);
  }, 150_000);
});
