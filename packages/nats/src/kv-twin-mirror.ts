import { type Logger, matchPath, silentLogger } from '@gemba/core';
import type { KvTwinStore, TwinRecord, TwinStoreChange } from './kv-twin-store.ts';

interface Held<T> {
  entry: T;
  revision: number;
}

/**
 * A local copy of the twin bucket that answers `snapshot(pattern)` synchronously and calls
 * listeners with every change: what an API node serves from, so that API nodes keep no state of
 * their own and any number can run. Its shape matches the API server's `TwinPort`.
 *
 * It follows the bucket from its start: changes arriving while the first snapshot loads are
 * applied after it, skipping those the snapshot already has (by revision).
 *
 * @example
 * const mirror = await KvTwinMirror.start(await KvTwinStore.open(nc));
 * mirror.snapshot('acme/plant1/+/line1/#');
 */
export class KvTwinMirror<T extends TwinRecord = TwinRecord> {
  readonly #held = new Map<string, Held<T>>();
  readonly #listeners = new Set<(changes: readonly T[]) => void>();
  readonly #log: Logger;
  #watch: { stop(): void } | undefined;
  #buffer: TwinStoreChange<T>[] | undefined = [];

  private constructor(log: Logger) {
    this.#log = log;
  }

  /** Loads the entries matching `pattern` (default all) and follows their changes. */
  static async start<T extends TwinRecord>(
    store: KvTwinStore<T>,
    options: { pattern?: string; logger?: Logger } = {},
  ): Promise<KvTwinMirror<T>> {
    const pattern = options.pattern ?? '#';
    const mirror = new KvTwinMirror<T>(
      (options.logger ?? silentLogger()).child({ component: 'nats.twin-mirror' }),
    );
    mirror.#watch = await store.watch(pattern, (c) => mirror.#onChange(c));
    try {
      for (const { entry, keyPath, revision } of await store.snapshotWithRevisions(pattern)) {
        const k = `${entry.kind}:${keyPath}`;
        const had = mirror.#held.get(k);
        if (had === undefined || had.revision < revision) mirror.#held.set(k, { entry, revision });
      }
    } catch (err: unknown) {
      mirror.stop();
      throw err;
    }
    const early = mirror.#buffer ?? [];
    mirror.#buffer = undefined;
    for (const c of early) mirror.#apply(c);
    return mirror;
  }

  #onChange(c: TwinStoreChange<T>): void {
    if (this.#buffer !== undefined) {
      this.#buffer.push(c);
      return;
    }
    this.#apply(c);
  }

  #apply(c: TwinStoreChange<T>): void {
    const k = c.op === 'put' ? `${c.entry.kind}:${c.keyPath}` : `${c.kind}:${c.path}`;
    const had = this.#held.get(k);
    if (had !== undefined && had.revision >= c.revision) return;
    if (c.op === 'delete') {
      this.#held.delete(k);
      return;
    }
    this.#held.set(k, { entry: c.entry, revision: c.revision });
    for (const l of this.#listeners) {
      try {
        l([c.entry]);
      } catch (err: unknown) {
        this.#log.error({ err }, 'twin listener failed');
      }
    }
  }

  /** Number of entries held. */
  get size(): number {
    return this.#held.size;
  }

  /** Every entry whose path matches the MQTT-style pattern (`+`, `#`). */
  snapshot(pattern: string): T[] {
    const out: T[] = [];
    for (const { entry } of this.#held.values()) if (matchPath(pattern, entry.path)) out.push(entry);
    return out;
  }

  /** Calls `listener` with every change, in order. Returns a function that stops it. */
  subscribe(listener: (changes: readonly T[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops following the bucket. */
  stop(): void {
    this.#watch?.stop();
    this.#watch = undefined;
  }
}
