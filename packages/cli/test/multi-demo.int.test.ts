import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { commandSkipReason, serviceSkipReason } from '@gemba/core/testing';
import { NATS_SERVER_BIN, NatsServerProcess } from '@gemba/nats/testing';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';

const PG_URL = process.env.GEMBA_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const skip =
  (await commandSkipReason(NATS_SERVER_BIN, 'apt-get install nats-server')) ??
  (await serviceSkipReason('postgres'));
const GEMBA = join(import.meta.dirname, '../bin/gemba.js');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(skip !== undefined)('gemba demo --plants 2 --lines 1 (scaled out, child processes)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('serves live twin values of every line through gemba api; SIGINT stops every child process', {
    timeout: 150_000,
  }, async () => {
    // A nats-server of the test's own (the shared one on 4222 holds other tests' streams).
    const srv = await NatsServerProcess.start();
    cleanups.push(() => srv.cleanup());
    const demo = spawn(
      process.execPath,
      [
        GEMBA,
        'demo',
        '--plants',
        '2',
        '--lines',
        '1',
        '--port',
        '0',
        '--bus',
        srv.url,
        '--historian',
        PG_URL,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    cleanups.push(async () => {
      if (demo.exitCode === null && demo.signalCode === null) {
        const exited = once(demo, 'exit');
        demo.kill('SIGKILL');
        await exited;
      }
    });
    let out = '';
    demo.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    await expect.poll(() => /processes\s+[\d ]+/.test(out), { timeout: 90_000, interval: 200 }).toBe(true);
    const url = /dashboard\s+(http\S+)\/\?token=(\S+)/.exec(out);
    const schema = /PostgreSQL schema (\S+)/.exec(out)?.[1];
    const pids = (/processes\s+([\d ]+)/.exec(out)?.[1] ?? '').trim().split(/\s+/).map(Number);
    expect(url).not.toBeNull();
    expect(schema).toMatch(/^gemba_demo_/);
    expect(pids).toHaveLength(2 + 2 + 1); // 2 engines, a gateway per plant, the api
    cleanups.push(async () => {
      const db = new pg.Client({ connectionString: PG_URL });
      await db.connect();
      await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await db.end();
    });
    for (const pid of pids) {
      cleanups.push(async () => {
        if (alive(pid)) process.kill(pid, 'SIGKILL');
      });
    }
    const base = url?.[1] ?? '';
    const token = url?.[2] ?? '';

    // Live values of every line, from the emulators through gateways, NATS, engines and the KV twin.
    const lines = ['acme/plant1/assembly/line1', 'acme/plant2/assembly/line1'];
    await expect
      .poll(
        async () => {
          const r = await fetch(`${base}/api/twin?pattern=acme/%23`, {
            headers: { authorization: `Bearer ${token}` },
          });
          if (!r.ok) return `HTTP ${r.status}`;
          const body = (await r.json()) as { entries: { kind: string; path: string; value?: unknown }[] };
          return lines.map((l) =>
            body.entries.some(
              (e) => e.kind === 'value' && e.path.startsWith(`${l}/`) && typeof e.value === 'number',
            ),
          );
        },
        { timeout: 60_000, interval: 500 },
      )
      .toEqual([true, true]);
    // The dashboard is served.
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);

    // SIGINT stops the demo and every child process.
    const exited = once(demo, 'exit');
    demo.kill('SIGINT');
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0);
    for (const pid of pids) expect(alive(pid), `pid ${pid}`).toBe(false);
  });
});
