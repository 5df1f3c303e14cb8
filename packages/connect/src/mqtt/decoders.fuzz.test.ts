import { ManualClock, parseModel, type Sample, type SourceStatus, silentLogger } from '@gemba/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { MqttJsonSource } from './json/driver.ts';
import { encodeSparkplug } from './sparkplug/codec.ts';
import { SparkplugHostSource } from './sparkplug/driver.ts';

const L = 'acme/p1/a1/line1/m1';
const L2 = 'acme/p1/a1/line1/m2';
const model = parseModel(
  stringify({
    gemba: 1,
    enterprise: { id: 'acme' },
    types: {
      m: { signals: { a: {}, b: { dataType: 'bool' }, c: { dataType: 'string' }, d: { dataType: 'uint' } } },
    },
    sites: [
      {
        id: 'p1',
        areas: [
          {
            id: 'a1',
            lines: [
              {
                id: 'line1',
                stations: [
                  { id: 'm1', type: 'm' },
                  { id: 'm2', type: 'm' },
                ],
              },
            ],
          },
        ],
      },
    ],
    sources: [
      {
        id: 'json',
        protocol: 'mqtt-json',
        url: 'mqtt://127.0.0.1:1',
        base: 'acme/p1/a1/line1',
        bindings: [
          { signal: 'm1/a', topic: 't/+', field: 'x.y', timestampField: 'ts' },
          { signal: 'm1/b', topic: 't/+', field: 'flag' },
          { signal: 'm1/c', topic: 't/+', field: 'arr[2]' },
          { signal: 'm1/d', topic: 't/+', field: 'n' },
        ],
      },
      {
        id: 'sp',
        protocol: 'sparkplug',
        url: 'mqtt://127.0.0.1:1',
        groupId: 'g',
        base: 'acme/p1/a1/line1',
        bindings: [
          { signal: 'm2/a', edgeNode: 'n', device: 'd', metric: 'A' },
          { signal: 'm2/b', edgeNode: 'n', device: 'd', metric: 'B' },
          { signal: 'm2/c', edgeNode: 'n', metric: 'C' },
        ],
      },
    ],
  }),
);
const bound = new Set([`${L}/a`, `${L}/b`, `${L}/c`, `${L}/d`, `${L2}/a`, `${L2}/b`, `${L2}/c`]);

function watch(src: MqttJsonSource | SparkplugHostSource) {
  const samples: Sample[] = [];
  const problems: SourceStatus[] = [];
  src.onBatch((b) => samples.push(...b.toSamples()));
  src.onStatus((s) => {
    if (s.problem !== undefined) problems.push(s);
  });
  return { samples, problems };
}

const opts = { logger: silentLogger(), clock: new ManualClock() };

describe('JSON decoder fuzzing', () => {
  it('never throws on random bytes; a non-JSON payload makes the topic bad and is named', () => {
    const src = new MqttJsonSource(model.sources[0] as never, model.bindingsOf('json'), { ...opts, model });
    const w = watch(src);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        w.samples.length = 0;
        w.problems.length = 0;
        src.handleMessage('t/1', bytes);
        expect(w.samples.every((s) => bound.has(s.signal))).toBe(true);
        for (const p of w.problems) expect(p.reason).toContain('t/1');
      }),
      { numRuns: 500 },
    );
  });

  it('takes only values of the right type as good, and reports every other one', () => {
    const src = new MqttJsonSource(model.sources[0] as never, model.bindingsOf('json'), { ...opts, model });
    const w = watch(src);
    const anyValue = fc.oneof(
      fc.double(),
      fc.integer(),
      fc.boolean(),
      fc.string(),
      fc.constant(null),
      fc.array(fc.integer(), { maxLength: 3 }),
    );
    const doc = fc.record(
      {
        x: fc.oneof(fc.record({ y: anyValue }), anyValue),
        flag: anyValue,
        arr: fc.array(anyValue, { maxLength: 4 }),
        n: anyValue,
        ts: fc.oneof(
          fc.integer({ min: 0, max: 2 ** 42 }),
          fc.string(),
          fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
        ),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(doc, (d) => {
        w.samples.length = 0;
        w.problems.length = 0;
        src.handleMessage('t/2', new TextEncoder().encode(JSON.stringify(d)));
        expect(w.samples.length).toBe(4);
        for (const s of w.samples) {
          if (s.quality !== 'good') continue;
          if (s.signal.endsWith('/a')) expect(Number.isFinite(s.value)).toBe(true);
          if (s.signal.endsWith('/b')) expect(typeof s.value).toBe('boolean');
          if (s.signal.endsWith('/c')) expect(typeof s.value).toBe('string');
          if (s.signal.endsWith('/d'))
            expect(Number.isInteger(s.value) && (s.value as number) >= 0).toBe(true);
        }
        expect(w.problems.length).toBe(w.samples.filter((s) => s.quality === 'bad').length);
        for (const p of w.problems) expect(p.reason).toContain('t/2');
      }),
      { numRuns: 500 },
    );
  });
});

describe('Sparkplug decoder fuzzing', () => {
  const birth = (src: SparkplugHostSource) => {
    src.handleMessage(
      'spBv1.0/g/NBIRTH/n',
      encodeSparkplug({
        seq: 0,
        metrics: [
          { name: 'bdSeq', type: 'UInt64', value: 0 },
          { name: 'C', alias: 3, type: 'String', value: 'x' },
        ],
      }),
    );
    src.handleMessage(
      'spBv1.0/g/DBIRTH/n/d',
      encodeSparkplug({
        seq: 1,
        metrics: [
          { name: 'A', alias: 1, type: 'Double', value: 1 },
          { name: 'B', alias: 2, type: 'Boolean', value: true },
        ],
      }),
    );
  };

  it('never throws on random bytes, before or after a birth, and names the topic', () => {
    const src = new SparkplugHostSource(model.sources[1] as never, model.bindingsOf('sp'), opts);
    const w = watch(src);
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.constantFrom('NDATA', 'DDATA', 'NBIRTH', 'DBIRTH', 'NDEATH', 'DDEATH'),
        fc.uint8Array({ maxLength: 300 }),
        (born, type, bytes) => {
          if (born) birth(src);
          w.problems.length = 0;
          const topic = `spBv1.0/g/${type}/n${type.startsWith('D') ? '/d' : ''}`;
          src.handleMessage(topic, bytes);
          expect(w.samples.every((s) => bound.has(s.signal))).toBe(true);
          for (const p of w.problems) expect(p.reason).toContain('spBv1.0/g/');
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('handles random valid-looking payloads: good values only for known metrics, 64-bit as numbers', () => {
    const src = new SparkplugHostSource(model.sources[1] as never, model.bindingsOf('sp'), opts);
    const w = watch(src);
    birth(src);
    const metric = fc.oneof(
      fc.record({
        alias: fc.integer({ min: 0, max: 5 }),
        type: fc.constant('Double' as const),
        value: fc.double({ noNaN: true }),
      }),
      fc.record({
        name: fc.constantFrom('A', 'B', 'Z'),
        type: fc.constant('Boolean' as const),
        value: fc.boolean(),
      }),
      fc.record({
        alias: fc.constantFrom(1, 2, 9),
        type: fc.constant('UInt64' as const),
        value: fc.bigInt({ min: 0n, max: 2n ** 53n - 1n }).map(Number),
      }),
      fc.record({ alias: fc.constant(1), type: fc.constant('String' as const), value: fc.string() }),
      fc.record({ name: fc.constant('A'), type: fc.constant('Double' as const), isNull: fc.constant(true) }),
    );
    let seq = 2;
    fc.assert(
      fc.property(fc.array(metric, { maxLength: 8 }), fc.boolean(), (metrics, gap) => {
        w.samples.length = 0;
        const s = gap ? (seq + 7) % 256 : seq;
        seq = (s + 1) % 256;
        src.handleMessage(
          'spBv1.0/g/DDATA/n/d',
          encodeSparkplug({ seq: s, timestamp: 1_767_600_000_000, metrics: metrics as never }),
        );
        for (const x of w.samples) {
          expect(bound.has(x.signal)).toBe(true);
          expect(typeof x.ts).toBe('number');
          if (x.quality === 'good') expect(['number', 'boolean', 'string']).toContain(typeof x.value);
        }
      }),
      { numRuns: 500 },
    );
    expect(src.counters.gaps).toBeGreaterThan(0);
  });
});
