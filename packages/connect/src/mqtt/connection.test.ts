import { describe, expect, it } from 'vitest';
import { topicMatches } from './connection.ts';
import { extract, getPath } from './json/decode.ts';

describe('MQTT topic filters (MQTT 3.1.1 §4.7)', () => {
  it('matches + and #', () => {
    expect(topicMatches('a/+/c', 'a/b/c')).toBe(true);
    expect(topicMatches('a/+/c', 'a/b/d')).toBe(false);
    expect(topicMatches('a/#', 'a/b/c')).toBe(true);
    expect(topicMatches('a/#', 'a')).toBe(true);
    expect(topicMatches('a/b', 'a/b/c')).toBe(false);
    expect(topicMatches('a/b/c', 'a/b')).toBe(false);
  });
});

describe('JSON field paths', () => {
  const doc = { ts: '2026-01-05T06:00:00Z', meter: { readings: [{ value: 1 }, { value: 2.5 }] }, on: 1 };
  it('follows dots and indexes', () => {
    expect(getPath(doc, 'meter.readings[1].value')).toBe(2.5);
    expect(getPath(doc, 'meter.readings[5].value')).toBeUndefined();
    expect(getPath(doc, 'on.x')).toBeUndefined();
  });
  it('checks data types and parses ISO timestamps', () => {
    expect(extract(doc, 'meter.readings[1].value', 'ts', 'float')).toEqual({
      ok: true,
      value: 2.5,
      ts: Date.UTC(2026, 0, 5, 6),
    });
    expect(extract(doc, 'on', undefined, 'bool')).toEqual({ ok: true, value: true, ts: undefined });
    expect(extract(doc, 'meter.readings[1].value', undefined, 'int')).toMatchObject({
      ok: false,
      problem: 'wrong-type',
    });
    expect(extract(doc, 'nope', undefined, 'float')).toMatchObject({
      ok: false,
      problem: 'mapping-mismatch',
    });
    expect(extract(doc, 'on', 'meter', 'float')).toMatchObject({ ok: false, problem: 'bad-timestamp' });
  });
});
