import { describe, expect, it } from 'vitest';
import { qualityOf, sampleValueOf } from './values.ts';

describe('OPC UA values', () => {
  it('maps status code severity to quality (Part 4 §7.39)', () => {
    expect(qualityOf(0)).toBe('good');
    expect(qualityOf(0x00a80000)).toBe('good'); // GoodOverload-style info bits stay good
    expect(qualityOf(0x40000000)).toBe('uncertain');
    expect(qualityOf(0x80340000)).toBe('bad'); // BadNodeIdUnknown
    expect(qualityOf(0xc0000000)).toBe('bad');
  });

  it('converts variant values', () => {
    expect(sampleValueOf(1.5, 'Double')).toBe(1.5);
    expect(sampleValueOf(true, 'Boolean')).toBe(true);
    expect(sampleValueOf('x', 'String')).toBe('x');
    expect(sampleValueOf([1, 5], 'UInt64')).toBe(2 ** 32 + 5);
    expect(sampleValueOf([0xffffffff, 0xfffffffe], 'Int64')).toBe(-2);
    expect(sampleValueOf(new Date(1000), 'DateTime')).toBe(1000);
    expect(sampleValueOf({ text: 'hello', locale: 'en' }, 'LocalizedText')).toBe('hello');
    expect(sampleValueOf([1, 2, 3], 'Double')).toBeUndefined();
    expect(sampleValueOf(null, 'Null')).toBeUndefined();
  });
});
