import { describe, expect, it } from 'vitest';
import { twinKey, twinKeyFilter } from './kv-twin-store.ts';

describe('twin keys', () => {
  it('joins kind and path segments with dots', () => {
    expect(twinKey('value', 'acme/plant1/assembly/line1/oven/zone2/temperature')).toBe(
      'value.acme.plant1.assembly.line1.oven.zone2.temperature',
    );
    expect(() => twinKey('va.lue', 'acme/x')).toThrow(/kind/);
    expect(() => twinKey('value', 'acme//x')).toThrow(/segment/);
  });

  it('narrows a pattern to a key filter that covers it', () => {
    expect(twinKeyFilter('value', 'acme/plant1/l1/press/speed')).toBe('value.acme.plant1.l1.press.speed');
    expect(twinKeyFilter('value', 'acme/plant1/+/line1/#')).toBe('value.acme.plant1.>');
    // `a/b/#` also matches `a/b` itself: the filter starts one level higher.
    expect(twinKeyFilter('state', 'acme/plant1/#')).toBe('state.acme.>');
    expect(twinKeyFilter(undefined, '#')).toBe('*.>');
    expect(twinKeyFilter(undefined, '+/x')).toBe('*.>');
    expect(() => twinKeyFilter('value', 'a/#/b')).toThrow(/bad segment/);
  });
});
