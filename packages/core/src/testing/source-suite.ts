import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Sample, SampleValue } from '../sample.ts';
import type { Source, SourceStatus } from '../source.ts';

/** What the source contract suite needs from a driver and its peer. */
export interface SourceFixture {
  /** A source, not started, bound to a live peer. */
  source: Source;
  /** Signal paths the peer serves good values for. */
  signals: readonly string[];
  /** Makes the peer produce new values (e.g. changes registers, publishes), if it needs a nudge. */
  produce?: () => Promise<void>;
  /** Takes the peer away (closes the server, stops publishing births) and brings it back. */
  breakPeer?: () => Promise<void>;
  restorePeer?: () => Promise<void>;
  /** A writable signal, a value to write, and how to read it back at the peer. */
  write?: { signal: string; value: SampleValue; readBack: () => Promise<SampleValue | undefined> };
  /** Releases everything the fixture started (the source is stopped by the suite). */
  cleanup?: () => Promise<void>;
}

/** Waits until `pred` holds, checking on every event, failing after `timeoutMs`. */
class Waiter<T> {
  readonly items: T[] = [];
  #checks = new Set<() => void>();
  push(item: T): void {
    this.items.push(item);
    for (const c of [...this.#checks]) c();
  }
  until(pred: (items: readonly T[]) => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    if (pred(this.items)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#checks.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const check = (): void => {
        if (!pred(this.items)) return;
        clearTimeout(timer);
        this.#checks.delete(check);
        resolve();
      };
      this.#checks.add(check);
    });
  }
}

/**
 * The contract every {@link Source} passes: it starts and delivers good samples for its
 * signals, reports its state, survives a throwing listener, makes every signal bad and says
 * so when the peer goes away, resumes when it returns, writes, and stops idempotently with
 * nothing delivered after `stop()`.
 *
 * @example
 * sourceContractSuite('modbus', async () => ({ source, signals, breakPeer, restorePeer }));
 */
export function sourceContractSuite(name: string, makeFixture: () => Promise<SourceFixture>): void {
  describe(`Source contract: ${name}`, () => {
    let fx: SourceFixture;
    let samples: Waiter<Sample>;
    let statuses: Waiter<SourceStatus>;

    beforeEach(async () => {
      fx = await makeFixture();
      samples = new Waiter<Sample>();
      statuses = new Waiter<SourceStatus>();
      fx.source.onBatch((b) => {
        for (const s of b.toSamples()) samples.push(s);
      });
      fx.source.onStatus((s) => statuses.push(s));
    });
    afterEach(async () => {
      await fx.source.stop();
      await fx.cleanup?.();
    });

    const goodFor =
      (signals: readonly string[], from = 0) =>
      (items: readonly Sample[]) =>
        signals.every((sig) => items.some((s, i) => i >= from && s.signal === sig && s.quality === 'good'));

    it('starts, connects and delivers good samples for every signal', async () => {
      expect(fx.source.id.length).toBeGreaterThan(0);
      await fx.source.start();
      await fx.produce?.();
      await samples.until(goodFor(fx.signals), `good samples of ${fx.signals.join(', ')}`);
      expect(fx.source.state).toBe('connected');
      expect(statuses.items.some((s) => s.state === 'connected' && s.source === fx.source.id)).toBe(true);
      for (const s of samples.items) {
        expect(Number.isFinite(s.ts)).toBe(true);
        expect(['good', 'uncertain', 'bad']).toContain(s.quality);
      }
    });

    it('keeps delivering when a listener throws, and removes listeners', async () => {
      fx.source.onBatch(() => {
        throw new Error('listener bug');
      });
      let removedCalls = 0;
      const off = fx.source.onBatch(() => {
        removedCalls++;
      });
      off();
      await fx.source.start();
      await fx.produce?.();
      await samples.until(goodFor(fx.signals), 'good samples despite a throwing listener');
      expect(removedCalls).toBe(0);
    });

    it('stops idempotently and delivers nothing after stop', async () => {
      await fx.source.start();
      await fx.produce?.();
      await samples.until((it) => it.length > 0, 'a first sample');
      await fx.source.stop();
      await fx.source.stop();
      expect(fx.source.state).toBe('stopped');
      const n = samples.items.length;
      await fx.produce?.();
      await new Promise((r) => setTimeout(r, 300));
      expect(samples.items.length).toBe(n);
    });

    it('marks every signal bad when the peer goes away, and recovers', async (ctx) => {
      if (fx.breakPeer === undefined || fx.restorePeer === undefined) ctx.skip();
      await fx.source.start();
      await fx.produce?.();
      await samples.until(goodFor(fx.signals), 'good samples before the break');
      const before = samples.items.length;
      await fx.breakPeer?.();
      await samples.until(
        (it) =>
          fx.signals.every((sig) =>
            it.some((s, i) => i >= before && s.signal === sig && s.quality === 'bad'),
          ),
        'bad samples for every signal after the peer went away',
      );
      await statuses.until(
        (it) =>
          it.some(
            (s) => (s.state === 'disconnected' || s.state === 'degraded') && (s.reason ?? '').length > 0,
          ),
        'a disconnected (or degraded) status with a reason',
      );
      const after = samples.items.length;
      await fx.restorePeer?.();
      await fx.produce?.();
      await samples.until(goodFor(fx.signals, after), 'good samples after the peer came back', 30_000);
    });

    it('writes a value to the peer', async (ctx) => {
      const w = fx.write;
      if (w === undefined) {
        ctx.skip();
        return;
      }
      await fx.source.start();
      await fx.produce?.();
      await samples.until(goodFor(fx.signals), 'connected before writing');
      await fx.source.write(w.signal, w.value);
      expect(await w.readBack()).toEqual(w.value);
      await expect(fx.source.write('acme/not/bound/here', 1)).rejects.toThrow();
    });
  });
}
