import type { Quality } from '@gemba/core';
import type { TwinChange } from './types.ts';

const QUALITY_NAMES: readonly Quality[] = ['good', 'uncertain', 'bad'];
const KIND_SIGNAL = 0;
const KIND_OBJECT = 1;

/**
 * The twin's change feed: a ring of the last `capacity` changes numbered 1, 2, 3 ... Signal
 * changes are stored column-wise (no allocation per sample); other changes as objects.
 */
export class ChangeFeed {
  readonly #mask: number;
  readonly #kind: Uint8Array;
  readonly #signal: Int32Array;
  readonly #num: Float64Array;
  readonly #ts: Float64Array;
  readonly #quality: Uint8Array;
  readonly #valueKind: Uint8Array;
  readonly #obj: (TwinChange | string | undefined)[];
  readonly #paths: readonly string[];
  #seq = 0;

  /**
   * @param capacity number of changes kept, rounded up to a power of two.
   * @param paths signal path by signal index.
   */
  constructor(capacity: number, paths: readonly string[]) {
    let c = 1;
    while (c < capacity) c <<= 1;
    this.#mask = c - 1;
    this.#kind = new Uint8Array(c);
    this.#signal = new Int32Array(c);
    this.#num = new Float64Array(c);
    this.#ts = new Float64Array(c);
    this.#quality = new Uint8Array(c);
    this.#valueKind = new Uint8Array(c);
    this.#obj = new Array(c);
    this.#paths = paths;
  }

  /** The sequence number of the last change (0 before any). */
  get seq(): number {
    return this.#seq;
  }

  /** The oldest sequence number still held. */
  get oldest(): number {
    return Math.max(1, this.#seq - this.#mask);
  }

  /**
   * Records a change of signal `signal` to `values[signal]` at `times[signal]` (the twin's
   * columns, read here so that no number is boxed per sample); `str` is the value when
   * `valueKind` is string (2).
   */
  pushSignal(
    signal: number,
    values: Float64Array,
    times: Float64Array,
    valueKind: number,
    str: string | undefined,
    quality: number,
  ): void {
    const slot = ++this.#seq & this.#mask;
    this.#kind[slot] = KIND_SIGNAL;
    this.#signal[slot] = signal;
    this.#num[slot] = values[signal] as number;
    this.#valueKind[slot] = valueKind;
    this.#ts[slot] = times[signal] as number;
    this.#quality[slot] = quality;
    this.#obj[slot] = str;
  }

  /** Records another change; its `seq` is set here. */
  push(change: TwinChange): void {
    const seq = ++this.#seq;
    change.seq = seq;
    const slot = seq & this.#mask;
    this.#kind[slot] = KIND_OBJECT;
    this.#obj[slot] = change;
  }

  /** Changes after `seq` (up to `toSeq`), or undefined when some have left the ring. */
  since(seq: number, toSeq = this.#seq): TwinChange[] | undefined {
    if (seq + 1 < this.oldest && seq < this.#seq) return undefined;
    const out: TwinChange[] = [];
    for (let s = Math.max(seq, 0) + 1; s <= toSeq; s++) out.push(this.#at(s));
    return out;
  }

  #at(seq: number): TwinChange {
    const slot = seq & this.#mask;
    if (this.#kind[slot] === KIND_OBJECT) return this.#obj[slot] as TwinChange;
    const vk = this.#valueKind[slot];
    const num = this.#num[slot] as number;
    return {
      seq,
      kind: 'signal',
      path: this.#paths[this.#signal[slot] as number] as string,
      value: vk === 2 ? ((this.#obj[slot] as string | undefined) ?? '') : vk === 1 ? num !== 0 : num,
      quality: QUALITY_NAMES[this.#quality[slot] as number] ?? 'bad',
      ts: this.#ts[slot] as number,
    };
  }
}
