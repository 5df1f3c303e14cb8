import { GembaError } from './errors.ts';

/** A signal's unified-namespace path, e.g. `acme/plant1/assembly/line1/oven/zone2/temperature`. */
export type SignalId = string;

/** OPC UA-style quality of a value. */
export type Quality = 'good' | 'uncertain' | 'bad';

/** A value as it comes from equipment. */
export type SampleValue = number | boolean | string;

/** One value of one signal at one source time. Hot paths move {@link SampleBatch}es instead. */
export interface Sample {
  signal: SignalId;
  /** Source time, ms since epoch. */
  ts: number;
  value: SampleValue;
  quality: Quality;
}

/** Quality codes as stored in a batch's `quality` column. */
export const QUALITY_CODE = { good: 0, uncertain: 1, bad: 2 } as const satisfies Record<Quality, number>;
const QUALITY_NAMES: readonly Quality[] = ['good', 'uncertain', 'bad'];

/** How a row's value is stored: in `num` (number, boolean as 0/1) or in `str`. */
export const VALUE_KIND = { number: 0, boolean: 1, string: 2 } as const;

/**
 * A columnar batch of samples: row `i` is `signals[i]`, `ts[i]`, its value and `quality[i]`.
 * Numeric and boolean values live in the `num` Float64Array (booleans as 0/1); string values
 * live in the sparse `str` array (with `num[i]` NaN). Batches are immutable once built.
 */
export class SampleBatch {
  readonly signals: readonly SignalId[];
  readonly ts: Float64Array;
  readonly num: Float64Array;
  readonly kind: Uint8Array;
  readonly quality: Uint8Array;
  readonly str: readonly (string | undefined)[] | undefined;

  constructor(
    signals: readonly SignalId[],
    ts: Float64Array,
    num: Float64Array,
    kind: Uint8Array,
    quality: Uint8Array,
    str?: readonly (string | undefined)[],
  ) {
    const n = signals.length;
    if (ts.length !== n || num.length !== n || kind.length !== n || quality.length !== n) {
      throw new GembaError('GEMBA_INVALID_ARGUMENT', 'SampleBatch columns differ in length');
    }
    this.signals = signals;
    this.ts = ts;
    this.num = num;
    this.kind = kind;
    this.quality = quality;
    this.str = str;
  }

  /** Number of samples. */
  get length(): number {
    return this.signals.length;
  }

  /** The value of row `i` in its original type. */
  valueAt(i: number): SampleValue {
    const k = this.kind[i];
    if (k === VALUE_KIND.boolean) return this.num[i] !== 0;
    if (k === VALUE_KIND.string) return this.str?.[i] ?? '';
    return this.num[i] as number;
  }

  /** The quality of row `i`. */
  qualityAt(i: number): Quality {
    return QUALITY_NAMES[this.quality[i] as number] ?? 'bad';
  }

  /** Row `i` as an object (allocates; not for hot paths). */
  at(i: number): Sample {
    return {
      signal: this.signals[i] as SignalId,
      ts: this.ts[i] as number,
      value: this.valueAt(i),
      quality: this.qualityAt(i),
    };
  }

  /** Every row as an object (allocates; not for hot paths). */
  toSamples(): Sample[] {
    const out: Sample[] = new Array(this.length);
    for (let i = 0; i < this.length; i++) out[i] = this.at(i);
    return out;
  }

  /** Builds a batch from sample objects. */
  static fromSamples(samples: readonly Sample[]): SampleBatch {
    const b = new SampleBatchBuilder(samples.length);
    for (const s of samples) b.push(s.signal, s.ts, s.value, s.quality);
    return b.build();
  }

  /** An empty batch. */
  static empty(): SampleBatch {
    return new SampleBatch(
      [],
      new Float64Array(0),
      new Float64Array(0),
      new Uint8Array(0),
      new Uint8Array(0),
    );
  }
}

/** Appends samples column by column and builds a {@link SampleBatch}; grows as needed. */
export class SampleBatchBuilder {
  #signals: SignalId[] = [];
  #ts: Float64Array;
  #num: Float64Array;
  #kind: Uint8Array;
  #quality: Uint8Array;
  #str: (string | undefined)[] | undefined;
  #n = 0;

  constructor(capacity = 256) {
    const c = Math.max(1, capacity);
    this.#ts = new Float64Array(c);
    this.#num = new Float64Array(c);
    this.#kind = new Uint8Array(c);
    this.#quality = new Uint8Array(c);
  }

  /** Number of samples pushed so far. */
  get length(): number {
    return this.#n;
  }

  #grow(): void {
    const c = this.#ts.length * 2;
    const ts = new Float64Array(c);
    ts.set(this.#ts);
    const num = new Float64Array(c);
    num.set(this.#num);
    const kind = new Uint8Array(c);
    kind.set(this.#kind);
    const q = new Uint8Array(c);
    q.set(this.#quality);
    this.#ts = ts;
    this.#num = num;
    this.#kind = kind;
    this.#quality = q;
  }

  /** Appends one numeric sample (the fast path). */
  pushNumber(signal: SignalId, ts: number, value: number, quality: Quality = 'good'): void {
    if (this.#n === this.#ts.length) this.#grow();
    const i = this.#n++;
    this.#signals.push(signal);
    this.#ts[i] = ts;
    this.#num[i] = value;
    this.#kind[i] = VALUE_KIND.number;
    this.#quality[i] = QUALITY_CODE[quality];
  }

  /** Appends one sample of any value type. */
  push(signal: SignalId, ts: number, value: SampleValue, quality: Quality = 'good'): void {
    if (typeof value === 'number') {
      this.pushNumber(signal, ts, value, quality);
      return;
    }
    if (this.#n === this.#ts.length) this.#grow();
    const i = this.#n++;
    this.#signals.push(signal);
    this.#ts[i] = ts;
    this.#quality[i] = QUALITY_CODE[quality];
    if (typeof value === 'boolean') {
      this.#num[i] = value ? 1 : 0;
      this.#kind[i] = VALUE_KIND.boolean;
    } else {
      this.#num[i] = Number.NaN;
      this.#kind[i] = VALUE_KIND.string;
      this.#str ??= [];
      this.#str[i] = value;
    }
  }

  /** Builds the batch and resets the builder. */
  build(): SampleBatch {
    const n = this.#n;
    const batch = new SampleBatch(
      this.#signals,
      this.#ts.slice(0, n),
      this.#num.slice(0, n),
      this.#kind.slice(0, n),
      this.#quality.slice(0, n),
      this.#str,
    );
    this.#signals = [];
    this.#str = undefined;
    this.#n = 0;
    return batch;
  }
}
