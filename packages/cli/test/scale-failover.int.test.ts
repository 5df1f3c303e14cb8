import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseModel, SampleBatchBuilder, subjectForPath } from '@gemba/core';
import { commandSkipReason, serviceSkipReason } from '@gemba/core/testing';
import { JetStreamBus } from '@gemba/nats';
import { multiLineModelYaml, NATS_SERVER_BIN, NatsServerProcess } from '@gemba/nats/testing';
import { Kvm } from '@nats-io/kv';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';

const PG_URL = process.env.GEMBA_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const skip =
  (await commandSkipReason(NATS_SERVER_BIN, 'apt-get install nats-server')) ??
  (await serviceSkipReason('postgres'));
const GEMBA = join(import.meta.dirname, '../bin/gemba.js');

describe.skipIf(skip !== undefined)('engine failover (two engine processes, six lines, kill -9)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('moves the killed engine’s lines to the other; the historian holds every sample once', {
    timeout: 120_000,
  }, async () => {
    const srv = await NatsServerProcess.start();
    cleanups.push(() => srv.cleanup());
    const dir = mkdtempSync(join(tmpdir(), 'gemba-failover-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const schema = `fo_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
    const db = new pg.Client({ connectionString: PG_URL });
    await db.connect();
    cleanups.push(async () => {
      await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await db.end();
    });
    const yaml = multiLineModelYaml(readFileSync('examples/demo-line/plant.yaml', 'utf8'), 2, 3);
    const modelFile = join(dir, 'plant.yaml');
    writeFileSync(modelFile, yaml);
    const model = parseModel(yaml, modelFile);
    const lines = model.lines.map((l) => l.path);
    expect(lines).toHaveLength(6);

    const engines = new Map<string, ChildProcess>();
    const startEngine = (member: string): void => {
      const args = [GEMBA, 'engine', modelFile, '--bus', srv.url, '--historian', PG_URL];
      args.push(
        '--historian-schema',
        schema,
        '--member',
        member,
        '--lease-ms',
        '1000',
        '--log-level',
        'warn',
      );
      const p = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
      engines.set(member, p);
      cleanups.push(async () => {
        if (p.exitCode === null && p.signalCode === null) {
          const exited = new Promise((r) => p.once('exit', r));
          p.kill('SIGKILL');
          await exited;
        }
      });
    };
    startEngine('engine-a');
    startEngine('engine-b');

    const bus = await JetStreamBus.connect({ servers: srv.url, name: 'test-gateways' });
    cleanups.push(() => bus.close());
    // Lease owners, read from the lease bucket's stream state (bounded requests, no listing).
    const owners = async (): Promise<Record<string, string>> => {
      const out: Record<string, string> = {};
      const info = await bus.manager.streams
        .info('KV_gemba-leases', { subjects_filter: '$KV.gemba-leases.lease.>' })
        .catch(() => undefined);
      if (info === undefined) return out;
      const kv = await new Kvm(bus.connection).open('gemba-leases');
      for (const subject of Object.keys(info.state.subjects ?? {})) {
        const e = await kv.get(subject.slice('$KV.gemba-leases.'.length));
        if (e?.operation === 'PUT') out[subject] = e.string();
      }
      return out;
    };
    const countOf = (o: Record<string, string>, m: string): number =>
      Object.values(o).filter((v) => v === m).length;
    await expect
      .poll(
        async () => {
          const o = await owners();
          return [countOf(o, 'engine-a'), countOf(o, 'engine-b')];
        },
        { timeout: 30_000, interval: 250 },
      )
      .toEqual([3, 3]);

    // The gateways: per line one signal, batches of 50 samples, a msgId each.
    const perLine = 4_000;
    const batch = 50;
    const t0 = Date.now() - 3_600_000;
    const window: Promise<unknown>[] = [];
    let killedAt = 0;
    for (let b = 0; b < perLine / batch; b++) {
      for (const line of lines) {
        const sb = new SampleBatchBuilder(batch);
        for (let i = 0; i < batch; i++)
          sb.pushNumber(`${line}/press/motor_current`, t0 + b * batch + i, b + i / 100);
        window.push(bus.publish(subjectForPath(line), sb.build(), { msgId: `${line}#${b}` }));
        while (window.length > 64) await window.shift();
      }
      if (b === perLine / batch / 2) {
        engines.get('engine-b')?.kill('SIGKILL');
        killedAt = Date.now();
      }
    }
    await Promise.all(window);

    // engine-a owns every line within a few seconds of the kill.
    await expect
      .poll(async () => countOf(await owners(), 'engine-a'), { timeout: 15_000, interval: 100 })
      .toBe(6);
    expect(Date.now() - killedAt).toBeLessThan(15_000);

    // The historian holds every sample, once.
    const total = perLine * lines.length;
    await expect
      .poll(
        async () =>
          Number(
            (
              await db
                .query(`SELECT count(*)::int8 AS n FROM "${schema}".raw`)
                .catch(() => ({ rows: [{ n: 0 }] }))
            ).rows[0].n,
          ),
        { timeout: 60_000, interval: 500 },
      )
      .toBe(total);
    const perSignal = await db.query(
      `SELECT s.path, count(*)::int8 AS n, count(DISTINCT r.ts)::int8 AS d FROM "${schema}".raw r JOIN "${schema}".signals s ON s.id = r.sid GROUP BY s.path ORDER BY s.path`,
    );
    expect(perSignal.rows.map((r: { path: string }) => r.path)).toEqual(
      lines.map((l) => `${l}/press/motor_current`).sort(),
    );
    for (const r of perSignal.rows as { n: string; d: string }[]) {
      expect(Number(r.n)).toBe(perLine);
      expect(Number(r.d)).toBe(perLine);
    }
  });
});
