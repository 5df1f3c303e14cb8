// The alarm off-delay (ANSI/ISA-18.2-2016 §11.4: an alarm clears only after its condition has
// been gone for the off-delay), through the engine with a model that sets one.
import { readFileSync } from 'node:fs';
import { ManualClock, PACKML_CODE, parseModel } from '@gemba/core';
import { describe, expect, it } from 'vitest';
import { Alarm } from './alarms.ts';
import { batch, DEMO_PLANT_FILE, engineFixture, L } from './testing/demo-line.ts';

const VIB = `${L}/press/vibration`;
const ID = `${VIB}:hi`;
// The demo line with a 10 s off-delay on the press vibration (hi 7.1, deadband 0.2, on-delay 5 s).
const VIB_LIMITS = 'limits: { hi: 7.1, hihi: 11.2, deadband: 0.2, onDelayMs: 5000, priority: high }';
const fx = engineFixture(() => {
  const text = readFileSync(DEMO_PLANT_FILE, 'utf8');
  if (!text.includes(VIB_LIMITS)) throw new Error('the demo line changed its vibration limits');
  return parseModel(
    text.replace(VIB_LIMITS, VIB_LIMITS.replace('onDelayMs: 5000', 'onDelayMs: 5000, offDelayMs: 10000')),
  );
});

describe('alarm off-delay', () => {
  it('clears only after the condition has been gone for the off-delay, as of when it expired', () => {
    const clock = new ManualClock();
    const e = fx.make(clock);
    const t0 = clock.now();
    const vib = (dt: number, v: number): void => e.ingest(batch([['press/vibration', t0 + dt, v]]));
    const state = (): string | undefined => e.alarms({ all: true }).find((a) => a.id === ID)?.state;
    e.ingest(batch([['press/state', t0 - 1, PACKML_CODE.Execute]]));
    vib(0, 8);
    vib(5000, 8);
    expect(state()).toBe('active-unacked');
    vib(6000, 6); // below hi − deadband (6.9): the condition is gone from 6 s
    vib(12_000, 6); // 6 s < 10 s
    expect(state()).toBe('active-unacked');
    vib(14_000, 7.5); // back before the off-delay expired: the off-delay starts over
    vib(15_000, 6);
    vib(24_000, 6); // 9 s since 15 s
    expect(state()).toBe('active-unacked');
    // No more samples: the engine's tick clears it once the off-delay has run out, dated 25 s.
    clock.set(t0 + 30_000);
    e.tick();
    expect(e.alarms({ all: true }).find((a) => a.id === ID)).toMatchObject({
      state: 'cleared-unacked',
      changedAt: t0 + 25_000,
    });
    expect(e.alarmJournal().map((t) => [t.action, t.ts - t0])).toEqual([
      ['raise', 5000],
      ['clear', 25_000],
    ]);
    // Acknowledged while active, it goes straight to normal when the off-delay runs out.
    e.acknowledge(ID, 'alice');
    vib(40_000, 8);
    vib(45_000, 8);
    clock.set(t0 + 45_500);
    e.acknowledge(ID, 'alice');
    expect(state()).toBe('active-acked');
    vib(46_000, 6);
    vib(55_999, 6);
    expect(state()).toBe('active-acked');
    vib(56_000, 6);
    expect(state()).toBe('normal');
    expect(e.alarmJournal().map((t) => [t.action, t.to, t.ts - t0])).toEqual([
      ['raise', 'active-unacked', 5000],
      ['clear', 'cleared-unacked', 25_000],
      ['ack', 'normal', 30_000],
      ['raise', 'active-unacked', 45_000],
      ['ack', 'active-acked', 45_500],
      ['clear', 'normal', 56_000],
    ]);
  });

  it('a low alarm with deadband and off-delay (the Alarm on its own)', () => {
    const a = new Alarm({
      source: 's',
      kind: 'lo',
      priority: 'low',
      limit: 170,
      deadband: 0.5,
      onDelayMs: 0,
      offDelayMs: 2000,
      message: 'low',
    });
    expect(a.update(170, 0)?.action).toBe('raise'); // at the limit: the condition holds (≤)
    expect(a.update(170.4, 1000)).toBeUndefined(); // within the deadband: still low
    expect(a.update(170.6, 2000)).toBeUndefined(); // gone from 2 s; off-delay 2 s
    expect(a.evaluate(3999)).toBeUndefined();
    expect(a.evaluate(4000)).toMatchObject({ action: 'clear', to: 'cleared-unacked', ts: 4000 });
  });
});
