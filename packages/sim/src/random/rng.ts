/**
 * Seeded pseudo-random streams: xoshiro128** (Blackman & Vigna 2018), 32-bit state words,
 * period 2^128 − 1. Each source of randomness (a station's cycle times, its failures, its
 * repairs, ...) gets its own stream derived from the run seed and the stream's name, so
 * streams are independent, reproducible, and stay in step between scenarios (common random
 * numbers): changing one station's speed does not shift any other station's draws.
 */

/** A 128-bit hash of a string (cyrb128), used to derive stream seeds from names. */
function hashName(name: string, seed: number): [number, number, number, number] {
  let h1 = 1779033703 ^ seed;
  let h2 = 3144134277 ^ Math.imul(seed, 0x9e3779b1);
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < name.length; i++) {
    const k = name.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  return [(h1 ^ h2 ^ h3 ^ h4) >>> 0, (h2 ^ h1) >>> 0, (h3 ^ h1) >>> 0, (h4 ^ h1) >>> 0];
}

/** A splitmix32 step, to spread seed bits before they become xoshiro state. */
function splitmix32(a: number): number {
  a = (a + 0x9e3779b9) | 0;
  let t = a ^ (a >>> 16);
  t = Math.imul(t, 0x21f0aaad);
  t ^= t >>> 15;
  t = Math.imul(t, 0x735a2d97);
  return (t ^ (t >>> 15)) >>> 0;
}

/** One random stream. `next()` is uniform on (0, 1), never exactly 0 or 1. */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /**
   * @param seed the run seed (an integer; the replication number is usually mixed in)
   * @param name the stream's name, e.g. `weld/cycle`
   */
  constructor(seed: number, name = '') {
    const [h1, h2, h3, h4] = hashName(name, seed | 0);
    this.#a = splitmix32(h1 ^ Math.floor(seed / 4294967296));
    this.#b = splitmix32(h2);
    this.#c = splitmix32(h3);
    this.#d = splitmix32(h4);
    if ((this.#a | this.#b | this.#c | this.#d) === 0) this.#a = 1;
    for (let i = 0; i < 8; i++) this.nextUint32();
  }

  /** The next 32-bit unsigned integer. */
  nextUint32(): number {
    const a = this.#a;
    const b = this.#b;
    let c = this.#c;
    let d = this.#d;
    // xoshiro128**: result = rotl(b * 5, 7) * 9
    const m = Math.imul(b, 5);
    const r = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    this.#b = b ^ c;
    this.#a = a ^ d;
    this.#c = c ^ t;
    this.#d = (d << 11) | (d >>> 21);
    return r;
  }

  /** Uniform on the open interval (0, 1), 2^-32 resolution. */
  next(): number {
    return (this.nextUint32() + 0.5) * 2.3283064365386963e-10;
  }
}

/** Mixes a base seed and a replication index into one run seed (both integers). */
export function replicationSeed(baseSeed: number, replication: number): number {
  return (splitmix32((baseSeed | 0) ^ Math.imul(replication + 1, 0x85ebca6b)) ^ replication) >>> 0;
}
