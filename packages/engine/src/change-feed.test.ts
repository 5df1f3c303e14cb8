import { describe, expect, it } from 'vitest';
import { ChangeFeed } from './change-feed.ts';

describe('ChangeFeed', () => {
  it('numbers changes and gives those after a sequence number', () => {
    const f = new ChangeFeed(4, ['a', 'b']);
    const num = Float64Array.of(1, 2);
    const ts = Float64Array.of(10, 20);
    f.pushSignal(0, num, ts, 0, undefined, 0);
    f.pushSignal(1, num, ts, 1, undefined, 2);
    f.pushSignal(0, num, ts, 2, 'on', 0);
    expect(f.seq).toBe(3);
    expect(f.since(0)).toEqual([
      { seq: 1, kind: 'signal', path: 'a', value: 1, quality: 'good', ts: 10 },
      { seq: 2, kind: 'signal', path: 'b', value: true, quality: 'bad', ts: 20 },
      { seq: 3, kind: 'signal', path: 'a', value: 'on', quality: 'good', ts: 10 },
    ]);
    expect(f.since(3)).toEqual([]);
  });

  it('says when asked-for changes have left the ring', () => {
    const f = new ChangeFeed(4, ['a']);
    const num = Float64Array.of(1);
    const ts = Float64Array.of(1);
    for (let i = 0; i < 10; i++) f.pushSignal(0, num, ts, 0, undefined, 0);
    expect(f.oldest).toBe(7);
    expect(f.since(6)?.map((c) => c.seq)).toEqual([7, 8, 9, 10]);
    expect(f.since(5)).toBeUndefined();
  });
});
