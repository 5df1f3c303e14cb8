/**
 * The event calendar: a binary min-heap of pending events ordered by (time, insertion
 * sequence), so events at the same time fire in the order they were scheduled (FIFO,
 * which keeps runs reproducible).
 *
 * Written for speed: event records live in pooled slots backed by typed arrays, the heap is an
 * `Int32Array` of slot indices, and no object is allocated per event. Cancelled events are
 * removed eagerly (the heap keeps each slot's position), so the heap only ever holds live
 * events.
 */

/** A function the calendar calls when an event fires; `arg` and `obj` are what was scheduled. */
export type EventHandler = (arg: number, obj: unknown) => void;

/**
 * Identifies one scheduled event, for {@link EventCalendar.cancel}. Stays valid (and cancel
 * stays a safe no-op) after the event fired or was cancelled, because the slot's generation
 * is part of the handle.
 */
export type EventHandle = number;

const SLOT_BITS = 2 ** 24;

/** A heap of pending events; see the module comment. */
export class EventCalendar {
  #cap: number;
  #time: Float64Array;
  #seq: Float64Array;
  #pos: Int32Array;
  #gen: Uint32Array;
  #arg: Float64Array;
  #handler: (EventHandler | undefined)[];
  #obj: unknown[];
  #heap: Int32Array;
  /** Event times in heap order (parallel to #heap), so comparisons read one array. */
  #heapTime: Float64Array;
  #size = 0;
  #free: Int32Array;
  #freeTop = 0;
  #nextSlot = 0;
  #nextSeq = 0;

  /** @param initialCapacity slots allocated up front; the calendar grows by doubling. */
  constructor(initialCapacity = 1024) {
    this.#cap = Math.max(16, initialCapacity);
    this.#time = new Float64Array(this.#cap);
    this.#seq = new Float64Array(this.#cap);
    this.#pos = new Int32Array(this.#cap);
    this.#gen = new Uint32Array(this.#cap);
    this.#arg = new Float64Array(this.#cap);
    this.#handler = new Array(this.#cap);
    this.#obj = new Array(this.#cap);
    this.#heap = new Int32Array(this.#cap);
    this.#heapTime = new Float64Array(this.#cap);
    this.#free = new Int32Array(this.#cap);
  }

  /** Number of pending events. */
  get size(): number {
    return this.#size;
  }

  /** Time of the earliest pending event, or `Infinity` when empty. */
  peekTime(): number {
    return this.#size === 0 ? Number.POSITIVE_INFINITY : (this.#heapTime[0] as number);
  }

  /** Adds an event at absolute `time`; returns its handle. */
  push(time: number, handler: EventHandler, arg: number, obj: unknown): EventHandle {
    let slot: number;
    if (this.#freeTop > 0) slot = this.#free[--this.#freeTop] as number;
    else {
      if (this.#nextSlot === this.#cap) this.#grow();
      slot = this.#nextSlot++;
    }
    this.#time[slot] = time;
    this.#seq[slot] = this.#nextSeq++;
    this.#arg[slot] = arg;
    this.#handler[slot] = handler;
    this.#obj[slot] = obj;
    this.#siftUp(this.#size++, slot, time);
    return (this.#gen[slot] as number) * SLOT_BITS + slot;
  }

  /**
   * Fires events in order while the earliest is due at or before `until`, at most `maxEvents`,
   * and while `clock.stopped` is false: sets `clock.now` to each event's time, then calls its
   * handler. Returns the number fired. This is the simulation's hot loop, kept inside the
   * calendar so an event costs one heap removal and one call, with no copying.
   */
  dispatch(until: number, maxEvents: number, clock: { now: number; stopped: boolean }): number {
    let fired = 0;
    while (this.#size > 0 && fired < maxEvents && !clock.stopped) {
      const t = this.#heapTime[0] as number;
      if (t > until) break;
      const slot = this.#heap[0] as number;
      const handler = this.#handler[slot] as EventHandler;
      const arg = this.#arg[slot] as number;
      const obj = this.#obj[slot];
      this.#removeAt(0);
      this.#release(slot);
      clock.now = t;
      fired++;
      handler(arg, obj);
    }
    return fired;
  }

  /** Cancels a pending event; returns false if it already fired or was cancelled. */
  cancel(handle: EventHandle): boolean {
    const slot = handle % SLOT_BITS;
    const gen = Math.floor(handle / SLOT_BITS);
    if (slot >= this.#nextSlot || this.#gen[slot] !== gen || this.#handler[slot] === undefined) return false;
    this.#removeAt(this.#pos[slot] as number);
    this.#release(slot);
    return true;
  }

  /** Time an event is due, or NaN when it is no longer pending. */
  timeOf(handle: EventHandle): number {
    const slot = handle % SLOT_BITS;
    const gen = Math.floor(handle / SLOT_BITS);
    if (slot >= this.#nextSlot || this.#gen[slot] !== gen || this.#handler[slot] === undefined)
      return Number.NaN;
    return this.#time[slot] as number;
  }

  /** Removes every pending event. */
  clear(): void {
    for (let i = 0; i < this.#size; i++) this.#release(this.#heap[i] as number);
    this.#size = 0;
  }

  #release(slot: number): void {
    this.#handler[slot] = undefined;
    this.#obj[slot] = undefined;
    this.#gen[slot] = ((this.#gen[slot] as number) + 1) % 0x1fffff;
    this.#free[this.#freeTop++] = slot;
  }

  #removeAt(i: number): void {
    const n = --this.#size;
    const last = this.#heap[n] as number;
    if (i === n) return;
    const t = this.#heapTime[n] as number;
    // Put the last element at i and restore the heap in whichever direction it violates.
    if (i > 0 && this.#before(t, last, (i - 1) >> 1)) this.#siftUp(i, last, t);
    else this.#siftDown(i, last, t);
  }

  /** True when the event (t, slot) orders before the heap entry at position j. */
  #before(t: number, slot: number, j: number): boolean {
    const tj = this.#heapTime[j] as number;
    return (
      t < tj || (t === tj && (this.#seq[slot] as number) < (this.#seq[this.#heap[j] as number] as number))
    );
  }

  #siftUp(i: number, slot: number, t: number): void {
    const heap = this.#heap;
    const ht = this.#heapTime;
    const pos = this.#pos;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#before(t, slot, p)) break;
      const ps = heap[p] as number;
      heap[i] = ps;
      ht[i] = ht[p] as number;
      pos[ps] = i;
      i = p;
    }
    heap[i] = slot;
    ht[i] = t;
    pos[slot] = i;
  }

  #siftDown(i: number, slot: number, t: number): void {
    const heap = this.#heap;
    const ht = this.#heapTime;
    const pos = this.#pos;
    const n = this.#size;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && this.#before(ht[c + 1] as number, heap[c + 1] as number, c)) c++;
      if (this.#before(t, slot, c)) break;
      const cs = heap[c] as number;
      heap[i] = cs;
      ht[i] = ht[c] as number;
      pos[cs] = i;
      i = c;
    }
    heap[i] = slot;
    ht[i] = t;
    pos[slot] = i;
  }

  #grow(): void {
    const cap = this.#cap * 2;
    if (cap > SLOT_BITS) throw new RangeError(`event calendar is full (${this.#cap} pending events)`);
    const grow = <T extends Float64Array | Int32Array | Uint32Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.#time = grow(this.#time, (n) => new Float64Array(n));
    this.#seq = grow(this.#seq, (n) => new Float64Array(n));
    this.#arg = grow(this.#arg, (n) => new Float64Array(n));
    this.#pos = grow(this.#pos, (n) => new Int32Array(n));
    this.#gen = grow(this.#gen, (n) => new Uint32Array(n));
    this.#heap = grow(this.#heap, (n) => new Int32Array(n));
    this.#heapTime = grow(this.#heapTime, (n) => new Float64Array(n));
    this.#free = grow(this.#free, (n) => new Int32Array(n));
    this.#handler.length = cap;
    this.#obj.length = cap;
    this.#cap = cap;
  }
}
