import { randomUUID } from 'node:crypto';
import { SampleBatch } from '@gemba/core';
import { Collector } from '@gemba/core/testing';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  connectNats,
  KvTwinMirror,
  KvTwinStore,
  type TwinRecord,
  type TwinStoreChange,
} from '../src/index.ts';
import { testNats } from './nats-url.ts';

const nats = await testNats();
const skip = nats === undefined ? 'no nats-server' : undefined;

interface StateEntry extends TwinRecord {
  kind: 'state';
  state: string;
}

afterAll(async () => {
  await nats?.release();
});

describe.skipIf(skip !== undefined)('KvTwinStore on a real nats-server', () => {
  let nc: NatsConnection;
  let twin: KvTwinStore;
  beforeEach(async () => {
    nc = await connectNats({ servers: nats?.url as string, name: 'gemba-test-twin' });
    twin = await KvTwinStore.open(nc, {
      bucket: `gemba-twin-test-${randomUUID().slice(0, 8)}`,
      storage: 'memory',
    });
  });
  afterEach(async () => {
    await twin.destroy();
    await nc.close();
  });

  const line = 'acme/plant1/assembly/line1';

  it('keeps the latest sample per signal and reads it back by path and by pattern', async () => {
    await twin.putSamples(
      SampleBatch.fromSamples([
        { signal: `${line}/press/speed`, ts: 1_000, value: 10, quality: 'good' },
        { signal: `${line}/press/speed`, ts: 3_000, value: 30, quality: 'good' },
        { signal: `${line}/press/speed`, ts: 2_000, value: 20, quality: 'good' },
        { signal: `${line}/oven/zone2/temperature`, ts: 3_000, value: 181.5, quality: 'uncertain' },
        { signal: 'acme/plant1/assembly/line2/press/speed', ts: 3_000, value: 5, quality: 'good' },
        { signal: `${line}/test/verdict`, ts: 3_000, value: 'pass', quality: 'good' },
      ]),
    );
    expect(await twin.get('value', `${line}/press/speed`)).toEqual({
      kind: 'value',
      path: `${line}/press/speed`,
      value: 30,
      quality: 'good',
      ts: 3_000,
    });
    const snap = await twin.snapshot(`${line}/#`, 'value');
    expect(snap.map((e) => e.path)).toEqual([
      `${line}/oven/zone2/temperature`,
      `${line}/press/speed`,
      `${line}/test/verdict`,
    ]);
    const speeds = await twin.snapshot('acme/plant1/assembly/+/press/speed');
    expect(speeds.map((e) => e.path)).toEqual([
      `${line}/press/speed`,
      'acme/plant1/assembly/line2/press/speed',
    ]);
    expect(await twin.snapshot('acme/plant9/#')).toEqual([]);
    expect(await twin.get('value', `${line}/nothing`)).toBeUndefined();
  });

  it('serves a second, stateless reader and streams changes to a watcher', async () => {
    const nc2 = await connectNats({ servers: nats?.url as string, name: 'gemba-test-twin-reader' });
    try {
      const reader = await KvTwinStore.open<StateEntry>(nc2, { bucket: twin.bucket });
      const changes = new Collector<TwinStoreChange<StateEntry>>();
      const w = await reader.watch(`${line}/#`, (c) => changes.push(c), { kind: 'state' });
      await twin.put({ kind: 'state', path: `${line}/press`, state: 'running' } as TwinRecord);
      await twin.put({
        kind: 'state',
        path: 'acme/plant1/assembly/line2/press',
        state: 'down',
      } as TwinRecord);
      await twin.put({ kind: 'state', path: `${line}/press`, state: 'down' } as TwinRecord);
      await twin.delete('state', `${line}/press`);
      const got = await changes.waitFor(3);
      w.stop();
      expect(got.map((c) => (c.op === 'put' ? `${c.entry.path}=${c.entry.state}` : `del ${c.path}`))).toEqual(
        [`${line}/press=running`, `${line}/press=down`, `del ${line}/press`],
      );
      expect(await reader.snapshot('#', 'state')).toEqual([
        { kind: 'state', path: 'acme/plant1/assembly/line2/press', state: 'down' },
      ]);
    } finally {
      await nc2.close();
    }
  });

  it('mirrors the bucket for an API node: snapshot from memory, then every change', async () => {
    interface AlarmEntry extends TwinRecord {
      kind: 'alarm';
      alarm: { id: string; active: boolean };
    }
    type Entry = StateEntry | AlarmEntry;
    const store = twin as unknown as KvTwinStore<Entry>;
    const alarmKey = (e: Entry): string => (e.kind === 'alarm' ? `${e.path}/${e.alarm.id}` : e.path);
    const sig = `${line}/oven/zone2/temperature`;
    await store.putMany(
      [
        { kind: 'state', path: `${line}/press`, state: 'running' },
        { kind: 'alarm', path: sig, alarm: { id: 'hi', active: true } },
        { kind: 'alarm', path: sig, alarm: { id: 'hihi', active: true } },
      ],
      alarmKey,
    );
    const mirror = await KvTwinMirror.start(store);
    try {
      expect(mirror.size).toBe(3);
      expect(
        mirror
          .snapshot(`${line}/oven/#`)
          .map((e) => (e as AlarmEntry).alarm.id)
          .sort(),
      ).toEqual(['hi', 'hihi']);
      const seen = new Collector<Entry>();
      mirror.subscribe((changes) => {
        for (const c of changes) seen.push(c);
      });
      await store.put({ kind: 'alarm', path: sig, alarm: { id: 'hi', active: false } }, `${sig}/hi`);
      await store.put({ kind: 'state', path: `${line}/press`, state: 'down' });
      await seen.waitFor(2);
      expect(mirror.size).toBe(3);
      expect(mirror.snapshot(`${line}/press`)).toEqual([
        { kind: 'state', path: `${line}/press`, state: 'down' },
      ]);
      const hi = mirror.snapshot('#').find((e) => e.kind === 'alarm' && e.alarm.id === 'hi') as AlarmEntry;
      expect(hi.alarm.active).toBe(false);
    } finally {
      mirror.stop();
    }
  });
});
