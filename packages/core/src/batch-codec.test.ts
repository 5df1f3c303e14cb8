import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBatch, encodeBatch } from './batch-codec.ts';
import { type Sample, SampleBatch, SampleBatchBuilder } from './sample.ts';

const sampleArb: fc.Arbitrary<Sample> = fc.record({
  signal: fc.constantFrom('acme/a/x', 'acme/a/y', 'acme/ü/z', 'a'),
  ts: fc.integer({ min: 0, max: 2 ** 45 }),
  value: fc.oneof(fc.double({ noNaN: true }), fc.boolean(), fc.string()),
  quality: fc.constantFrom('good', 'uncertain', 'bad'),
});

describe('batch codec', () => {
  it('round-trips any batch', () => {
    fc.assert(
      fc.property(fc.array(sampleArb, { maxLength: 50 }), (samples) => {
        const b = SampleBatch.fromSamples(samples);
        expect(decodeBatch(encodeBatch(b)).toSamples()).toEqual(b.toSamples());
      }),
    );
  });

  it('rejects random and truncated bytes with GEMBA_BATCH_DECODE, never another error', () => {
    const good = encodeBatch(
      SampleBatch.fromSamples([{ signal: 'a/b', ts: 1, value: 'x', quality: 'good' }]),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeBatch(bytes);
        } catch (err) {
          expect(err).toMatchObject({ code: 'GEMBA_BATCH_DECODE' });
        }
      }),
    );
    for (let n = 0; n < good.length; n++) {
      expect(() => decodeBatch(good.subarray(0, n))).toThrow(
        expect.objectContaining({ code: 'GEMBA_BATCH_DECODE' }),
      );
    }
  });

  it('keeps NaN and large batches intact', () => {
    const b = new SampleBatchBuilder(2);
    for (let i = 0; i < 5000; i++)
      b.pushNumber(`acme/s${i % 100}`, i, i % 7 === 0 ? Number.NaN : i * 0.5, 'good');
    const batch = b.build();
    const back = decodeBatch(encodeBatch(batch));
    expect(back.length).toBe(5000);
    expect(Number.isNaN(back.num[0])).toBe(true);
    expect(back.num[1]).toBe(0.5);
    expect(back.signals[4999]).toBe('acme/s99');
  });
});
