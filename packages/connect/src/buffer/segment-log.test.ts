import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SegmentLog } from './segment-log.ts';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'gemba-seglog-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const payload = (i: number): Uint8Array => new Uint8Array(100).fill(i % 256);

describe('SegmentLog', () => {
  it('reads records back in order across segments and removes read segments', () => {
    const dir = tmp();
    const log = new SegmentLog(dir, 1024);
    for (let i = 0; i < 50; i++) log.append(`s.${i}`, `m-${i}`, i, payload(i));
    expect(log.records).toBe(50);
    expect(readdirSync(dir).filter((f) => f.endsWith('.seg')).length).toBeGreaterThan(5);
    for (let i = 0; i < 50; i++) {
      const r = log.peek();
      expect(r?.subject).toBe(`s.${i}`);
      expect(r?.msgId).toBe(`m-${i}`);
      expect(r?.samples).toBe(i);
      expect(r?.payload).toEqual(payload(i));
      log.ack(r?.seq as number);
    }
    expect(log.peek()).toBeUndefined();
    log.saveCursor();
    expect(readdirSync(dir).filter((f) => f.endsWith('.seg'))).toEqual([]);
    log.close();
  });

  it('survives a reopen, resuming after the saved cursor, and cuts a torn record', () => {
    const dir = tmp();
    const log = new SegmentLog(dir, 1 << 20);
    for (let i = 0; i < 10; i++) log.append('s', `m-${i}`, 1, payload(i));
    for (let i = 0; i < 3; i++) log.ack((log.peek() as { seq: number }).seq);
    log.saveCursor();
    log.close();
    const seg = readdirSync(dir).find((f) => f.endsWith('.seg')) as string;
    appendFileSync(join(dir, seg), Buffer.from([50, 0, 0, 0, 1, 2])); // a half-written record
    const again = new SegmentLog(dir, 1 << 20);
    expect(again.records).toBe(7);
    expect(again.peek()?.msgId).toBe('m-3');
    again.append('s', 'm-10', 1, payload(10));
    const ids: string[] = [];
    for (let r = again.peek(); r !== undefined; r = again.peek()) {
      ids.push(r.msgId);
      again.ack(r.seq);
    }
    expect(ids).toEqual(['m-3', 'm-4', 'm-5', 'm-6', 'm-7', 'm-8', 'm-9', 'm-10']);
    again.close();
  });

  it('drops the oldest segment and says how much it held', () => {
    const dir = tmp();
    const log = new SegmentLog(dir, 600);
    for (let i = 0; i < 20; i++) log.append('s', `m-${i}`, 10, payload(i));
    const before = log.records;
    const d = log.dropOldest();
    expect(d.records).toBeGreaterThan(0);
    expect(d.samples).toBe(d.records * 10);
    expect(log.records).toBe(before - d.records);
    expect(log.peek()?.msgId).toBe(`m-${d.records}`);
    log.close();
    expect(new SegmentLog(dir, 600).peek()?.msgId).toBe(`m-${d.records}`);
  });
});
