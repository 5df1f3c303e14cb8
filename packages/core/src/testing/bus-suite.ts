import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Bus, BusMessage, ConsumeOptions, Subscription } from '../bus/bus.ts';
import { SampleBatch, SampleBatchBuilder } from '../sample.ts';

/** What a bus contract suite needs from an implementation. */
export interface BusFixture {
  bus: Bus;
  /** Releases everything the fixture started. */
  cleanup?: () => Promise<void>;
}

/** A batch of `n` numeric samples tagged with `tag` in the value (tag*1000 + i). */
export function taggedBatch(tag: number, n = 3, signal = 'acme/p/a/l/s/x'): SampleBatch {
  const b = new SampleBatchBuilder(n);
  for (let i = 0; i < n; i++) b.pushNumber(signal, 1_700_000_000_000 + tag, tag * 1000 + i);
  return b.build();
}

/** The tag {@link taggedBatch} put in a batch. */
export function tagOf(batch: SampleBatch): number {
  return Math.floor((batch.num[0] as number) / 1000);
}

/** Resolves once `count` items have been collected. */
export class Collector<T> {
  readonly items: T[] = [];
  #want = 0;
  #resolve: (() => void) | undefined;

  push(item: T): void {
    this.items.push(item);
    if (this.#resolve !== undefined && this.items.length >= this.#want) {
      this.#resolve();
      this.#resolve = undefined;
    }
  }

  /** Waits for `count` items, failing after `timeoutMs`. */
  async waitFor(count: number, timeoutMs = 10_000): Promise<T[]> {
    if (this.items.length >= count) return this.items;
    this.#want = count;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => {
        this.#resolve = resolve;
      }),
      new Promise<void>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`timed out waiting for ${count} items, have ${this.items.length}`)),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    return this.items;
  }
}

/**
 * The contract every {@link Bus} passes: ordered delivery per subject, filters, at-least-once
 * with acknowledgement, replay from a position, resume of durable consumers, fan-out,
 * deduplication and backpressure.
 *
 * @example
 * busContractSuite('in-process', async () => ({ bus: new InProcessBus() }));
 */
export function busContractSuite(name: string, makeFixture: () => Promise<BusFixture>): void {
  describe(`Bus contract: ${name}`, () => {
    let fx: BusFixture;
    let subs: Subscription[];
    let prefix: string;
    const subject = (line: string): string => `${prefix}.${line}`;

    beforeEach(async () => {
      fx = await makeFixture();
      subs = [];
      prefix = `gemba.samples.t${randomUUID().replaceAll('-', '').slice(0, 12)}`;
    });
    afterEach(async () => {
      for (const s of subs) await s.stop();
      await fx.cleanup?.();
    });

    const consume = async (
      durable: string,
      filter: string,
      handler: (m: BusMessage) => void | Promise<void>,
      extra: Omit<ConsumeOptions, 'durable' | 'filter'> = {},
    ): Promise<Subscription> => {
      const s = await fx.bus.consume(
        { durable: `${durable}-${prefix.slice(-12)}`, filter, ...extra },
        handler,
      );
      subs.push(s);
      return s;
    };

    it('delivers a batch intact', async () => {
      const got = new Collector<BusMessage>();
      await consume('c', `${prefix}.>`, (m) => {
        got.push(m);
        m.ack();
      });
      const b = SampleBatch.fromSamples([
        { signal: 'acme/x/y', ts: 1, value: 1.5, quality: 'good' },
        { signal: 'acme/x/z', ts: 2, value: true, quality: 'uncertain' },
        { signal: 'acme/x/w', ts: 3, value: 'ok', quality: 'bad' },
      ]);
      await fx.bus.publish(subject('line1'), b);
      const [m] = await got.waitFor(1);
      expect(m?.subject).toBe(subject('line1'));
      expect(m?.batch.toSamples()).toEqual(b.toSamples());
      expect(m?.deliveryCount).toBe(1);
    });

    it('keeps order per subject and honours filters', async () => {
      const got = new Collector<BusMessage>();
      await consume('c', `${prefix}.*`, (m) => {
        got.push(m);
        m.ack();
      });
      const other = new Collector<BusMessage>();
      await consume('only-b', `${prefix}.b`, (m) => {
        other.push(m);
        m.ack();
      });
      const pubs: Promise<unknown>[] = [];
      for (let i = 0; i < 200; i++)
        pubs.push(fx.bus.publish(subject(i % 2 === 0 ? 'a' : 'b'), taggedBatch(i)));
      pubs.push(fx.bus.publish(`${prefix}.a.deeper`, taggedBatch(999)));
      await Promise.all(pubs);
      const all = await got.waitFor(200);
      const tagsA = all.filter((m) => m.subject === subject('a')).map((m) => tagOf(m.batch));
      const tagsB = all.filter((m) => m.subject === subject('b')).map((m) => tagOf(m.batch));
      expect(tagsA).toEqual([...Array(100).keys()].map((i) => i * 2));
      expect(tagsB).toEqual([...Array(100).keys()].map((i) => i * 2 + 1));
      const onlyB = await other.waitFor(100);
      expect(onlyB.every((m) => m.subject === subject('b'))).toBe(true);
      // `*` matches one token only: the deeper subject reaches neither consumer.
      expect(all.some((m) => tagOf(m.batch) === 999)).toBe(false);
    });

    it('redelivers what was not acknowledged when a durable consumer restarts', async () => {
      for (let i = 0; i < 10; i++) await fx.bus.publish(subject('l'), taggedBatch(i));
      const first = new Collector<BusMessage>();
      const s1 = await consume('d', `${prefix}.>`, (m) => {
        first.push(m);
        if (tagOf(m.batch) < 5) m.ack();
      });
      await first.waitFor(10);
      await s1.stop();
      const second = new Collector<BusMessage>();
      await consume('d', `${prefix}.>`, (m) => {
        second.push(m);
        m.ack();
      });
      const again = await second.waitFor(5);
      expect(again.map((m) => tagOf(m.batch))).toEqual([5, 6, 7, 8, 9]);
      expect(again.every((m) => m.deliveryCount >= 2)).toBe(true);
      await fx.bus.publish(subject('l'), taggedBatch(10));
      await second.waitFor(6);
      expect(second.items.map((m) => tagOf(m.batch))).toEqual([5, 6, 7, 8, 9, 10]);
    });

    it('redelivers a nak-ed message and one whose ack wait expires', async () => {
      const got = new Collector<BusMessage>();
      let naked = false;
      let ignored = false;
      await consume(
        'n',
        `${prefix}.>`,
        (m) => {
          got.push(m);
          const tag = tagOf(m.batch);
          if (tag === 1 && !naked) {
            naked = true;
            m.nak();
            return;
          }
          if (tag === 2 && !ignored) {
            ignored = true; // neither ack nor nak: the ack wait expires
            return;
          }
          m.ack();
        },
        { ackWaitMs: 1000 },
      );
      for (let i = 0; i < 3; i++) await fx.bus.publish(subject('l'), taggedBatch(i));
      const all = await got.waitFor(5, 15_000);
      const counts = new Map<number, number>();
      for (const m of all) counts.set(tagOf(m.batch), (counts.get(tagOf(m.batch)) ?? 0) + 1);
      expect(counts.get(0)).toBe(1);
      expect(counts.get(1)).toBe(2);
      expect(counts.get(2)).toBe(2);
    });

    it('replays from a sequence, from a time, or only new messages', async () => {
      const acks = [];
      for (let i = 0; i < 6; i++) acks.push(await fx.bus.publish(subject('r'), taggedBatch(i)));
      const from = acks[3]?.seq as number;
      const bySeq = new Collector<BusMessage>();
      await consume(
        'seq',
        `${prefix}.>`,
        (m) => {
          bySeq.push(m);
          m.ack();
        },
        { deliverFrom: { kind: 'sequence', seq: from } },
      );
      expect((await bySeq.waitFor(3)).map((m) => tagOf(m.batch))).toEqual([3, 4, 5]);

      const fresh = new Collector<BusMessage>();
      await consume(
        'new',
        `${prefix}.>`,
        (m) => {
          fresh.push(m);
          m.ack();
        },
        { deliverFrom: { kind: 'new' } },
      );
      await fx.bus.publish(subject('r'), taggedBatch(6));
      expect((await fresh.waitFor(1)).map((m) => tagOf(m.batch))).toEqual([6]);

      const all = new Collector<BusMessage>();
      await consume(
        'time',
        `${prefix}.>`,
        (m) => {
          all.push(m);
          m.ack();
        },
        { deliverFrom: { kind: 'time', ms: 0 } },
      );
      expect((await all.waitFor(7)).map((m) => tagOf(m.batch))).toEqual([0, 1, 2, 3, 4, 5, 6]);
    });

    it('gives every durable consumer every message (fan-out)', async () => {
      const a = new Collector<number>();
      const b = new Collector<number>();
      await consume('fa', `${prefix}.>`, (m) => {
        a.push(tagOf(m.batch));
        m.ack();
      });
      await consume('fb', `${prefix}.>`, (m) => {
        b.push(tagOf(m.batch));
        m.ack();
      });
      for (let i = 0; i < 50; i++) await fx.bus.publish(subject('f'), taggedBatch(i));
      expect(await a.waitFor(50)).toEqual([...Array(50).keys()]);
      expect(await b.waitFor(50)).toEqual([...Array(50).keys()]);
    });

    it('stores a message once for a repeated msgId', async () => {
      const got = new Collector<number>();
      await consume('dup', `${prefix}.>`, (m) => {
        got.push(tagOf(m.batch));
        m.ack();
      });
      const first = await fx.bus.publish(subject('d'), taggedBatch(1), { msgId: `${prefix}-m1` });
      const again = await fx.bus.publish(subject('d'), taggedBatch(1), { msgId: `${prefix}-m1` });
      await fx.bus.publish(subject('d'), taggedBatch(2), { msgId: `${prefix}-m2` });
      expect(first.duplicate).toBe(false);
      expect(again.duplicate).toBe(true);
      expect(again.seq).toBe(first.seq);
      expect(await got.waitFor(2)).toEqual([1, 2]);
    });

    it('holds back a slow consumer without losing data (backpressure)', async () => {
      let inFlight = 0;
      let maxInFlight = 0;
      const got = new Collector<number>();
      const pendingAcks: BusMessage[] = [];
      await consume(
        'slow',
        `${prefix}.>`,
        (m) => {
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          pendingAcks.push(m);
          got.push(tagOf(m.batch));
          // Acknowledge later, in a burst, as a batching writer would.
          if (pendingAcks.length >= 8) {
            setTimeout(() => {
              for (const p of pendingAcks.splice(0)) {
                inFlight--;
                p.ack();
              }
            }, 2);
          }
        },
        { maxAckPending: 8 },
      );
      const n = 400;
      for (let i = 0; i < n; i++) await fx.bus.publish(subject('s'), taggedBatch(i));
      expect(await got.waitFor(n, 30_000)).toEqual([...Array(n).keys()]);
      expect(maxInFlight).toBeLessThanOrEqual(8);
    });

    it('reports the lag of a durable consumer', async () => {
      const s = await consume('lag', `${prefix}.>`, () => {});
      await s.stop();
      for (let i = 0; i < 7; i++) await fx.bus.publish(subject('g'), taggedBatch(i));
      expect(await fx.bus.pending(`lag-${prefix.slice(-12)}`)).toBe(7);
    });
  });
}
