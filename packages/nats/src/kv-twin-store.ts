import {
  GembaError,
  type Logger,
  matchPath,
  PATH_SEGMENT,
  type Quality,
  type SampleBatch,
  type SampleValue,
  silentLogger,
  validatePattern,
} from '@gemba/core';
import { StorageType } from '@nats-io/jetstream';
import { type KV, type KvEntry, Kvm, KvWatchInclude } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';

/**
 * One entry of the live twin as the store keeps it: a kind (`value`, `state`, `kpi`, ...) and a
 * namespace path, plus any JSON-serialisable fields. A later entry with the same kind and path
 * replaces the earlier one.
 */
export interface TwinRecord {
  /** Letters, digits, `_` and `-`: the first token of the key. */
  kind: string;
  /** Namespace path of the signal or asset, e.g. `acme/plant1/assembly/line1/press`. */
  path: string;
}

/** The last value of a signal, as {@link KvTwinStore.putSamples} writes it (kind `value`). */
export interface TwinSignalValue extends TwinRecord {
  kind: 'value';
  value: SampleValue;
  quality: Quality;
  /** Source time, ms since epoch. */
  ts: number;
}

/** A change seen by {@link KvTwinStore.watch}: an entry put, or one deleted (then only kind and path). */
export type TwinStoreChange<T extends TwinRecord> =
  | { op: 'put'; entry: T; keyPath: string; revision: number }
  | { op: 'delete'; kind: string; path: string; revision: number };

/** Options of {@link KvTwinStore.open}. */
export interface KvTwinStoreOptions {
  /** Bucket name; letters, digits, `_` and `-`. Default `gemba-twin`. */
  bucket?: string;
  /** Copies in a cluster (1, 3 or 5). Default 1. */
  replicas?: number;
  /** `file` (default) or `memory`. */
  storage?: 'file' | 'memory';
  /** Entries not updated for this long disappear, ms; default 0 (never). */
  ttlMs?: number;
  logger?: Logger;
}

const KIND = /^[A-Za-z0-9_-]+$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The key path of a bucket key (`value.acme.x.y` → `acme/x/y`). */
function keyPathOf(key: string): string {
  return key.slice(key.indexOf('.') + 1).replaceAll('.', '/');
}

/** The bucket key of an entry: `<kind>.<path segments joined by dots>`. */
export function twinKey(kind: string, path: string): string {
  if (!KIND.test(kind))
    throw new GembaError('GEMBA_INVALID_ARGUMENT', `twin entry kind '${kind}' is not allowed`);
  const segs = path.split('/');
  for (const s of segs) {
    if (!PATH_SEGMENT.test(s))
      throw new GembaError(
        'GEMBA_INVALID_ARGUMENT',
        `path '${path}' has segment '${s}' not allowed in a twin key`,
      );
  }
  return `${kind}.${segs.join('.')}`;
}

/**
 * The narrowest key filter that covers an MQTT-style path pattern (the result is then checked
 * with `matchPath`): literal segments up to the first wildcard, then `>`. A final `#` also
 * matches its parent (`a/b/#` matches `a/b`), so the filter starts one level higher then.
 */
export function twinKeyFilter(kind: string | undefined, pattern: string): string {
  validatePattern(pattern);
  const k = kind ?? '*';
  if (kind !== undefined && !KIND.test(kind))
    throw new GembaError('GEMBA_INVALID_ARGUMENT', `twin entry kind '${kind}' is not allowed`);
  const segs = pattern.split('/');
  const firstWild = segs.findIndex((s) => s === '+' || s === '#');
  if (firstWild === -1) return `${k}.${segs.join('.')}`;
  const literal = segs.slice(0, segs[firstWild] === '#' ? Math.max(0, firstWild - 1) : firstWild);
  return literal.length === 0 ? `${k}.>` : `${k}.${literal.join('.')}.>`;
}

/**
 * The live twin's state in a JetStream key-value bucket, so API nodes are stateless: engines put
 * the latest value of every signal and the state of every asset; any API node reads a snapshot
 * by pattern and watches changes. One key per kind and path (history 1).
 *
 * @example
 * const twin = await KvTwinStore.open(nc);
 * await twin.putSamples(batch);
 * const line = await twin.snapshot('acme/plant1/assembly/line1/#', 'value');
 */
export class KvTwinStore<T extends TwinRecord = TwinRecord> {
  readonly #kv: KV;
  readonly #bucket: string;
  readonly #log: Logger;

  private constructor(kv: KV, bucket: string, log: Logger) {
    this.#kv = kv;
    this.#bucket = bucket;
    this.#log = log;
  }

  /**
   * Opens (creating if needed) the twin bucket on a NATS connection.
   * @throws GembaError GEMBA_BUS_UNAVAILABLE when JetStream does not answer.
   */
  static async open<T extends TwinRecord = TwinRecord>(
    nc: NatsConnection,
    options: KvTwinStoreOptions = {},
  ): Promise<KvTwinStore<T>> {
    const bucket = options.bucket ?? 'gemba-twin';
    const log = (options.logger ?? silentLogger()).child({ component: 'nats.twin', bucket });
    try {
      const kvm = new Kvm(nc);
      let kv: KV;
      try {
        kv = await kvm.create(bucket, {
          history: 1,
          replicas: options.replicas ?? 1,
          storage: options.storage === 'memory' ? StorageType.Memory : StorageType.File,
          ttl: options.ttlMs ?? 0,
        });
      } catch (err: unknown) {
        // It exists with other settings (chosen by whoever created it): use it as it is.
        log.debug({ err }, 'twin bucket exists with other settings; opening it');
        kv = await kvm.open(bucket);
      }
      return new KvTwinStore<T>(kv, bucket, log);
    } catch (err: unknown) {
      throw new GembaError(
        'GEMBA_BUS_UNAVAILABLE',
        `cannot open twin bucket '${bucket}' on ${nc.getServer()}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  /** The bucket name. */
  get bucket(): string {
    return this.#bucket;
  }

  /**
   * Stores one entry (replacing the one of the same kind and path); resolves with its revision.
   * `keyPath` (default `entry.path`) keys entries that share a path apart, e.g. several alarms
   * of one signal under `<signal path>/<alarm id>`; patterns match the key path.
   * @throws GembaError GEMBA_INVALID_ARGUMENT for a bad kind or path; GEMBA_BUS_UNAVAILABLE.
   */
  async put(entry: T, keyPath: string = entry.path): Promise<number> {
    const key = twinKey(entry.kind, keyPath);
    try {
      return await this.#kv.put(key, encoder.encode(JSON.stringify(entry)));
    } catch (err: unknown) {
      throw new GembaError('GEMBA_BUS_UNAVAILABLE', `cannot store twin entry '${key}' in '${this.#bucket}'`, {
        cause: err,
      });
    }
  }

  /**
   * Stores many entries, pipelined; when several share a kind and key path, the last one wins.
   * `keyPathOf` gives an entry's key path (default its `path`).
   */
  async putMany(entries: readonly T[], keyPathOf: (e: T) => string = (e) => e.path): Promise<void> {
    const last = new Map<string, [T, string]>();
    for (const e of entries) {
      const kp = keyPathOf(e);
      last.set(`${e.kind}\u0000${kp}`, [e, kp]);
    }
    await Promise.all([...last.values()].map(([e, kp]) => this.put(e, kp)));
  }

  /**
   * Stores the latest sample of each signal of a batch as a `value` entry (the latest by source
   * time; rows of equal time: the later row).
   */
  async putSamples(batch: SampleBatch): Promise<void> {
    const latest = new Map<string, number>();
    for (let i = 0; i < batch.length; i++) {
      const s = batch.signals[i] as string;
      const j = latest.get(s);
      if (j === undefined || (batch.ts[i] as number) >= (batch.ts[j] as number)) latest.set(s, i);
    }
    const entries: TwinSignalValue[] = [];
    for (const [path, i] of latest) {
      entries.push({
        kind: 'value',
        path,
        value: batch.valueAt(i),
        quality: batch.qualityAt(i),
        ts: batch.ts[i] as number,
      });
    }
    await Promise.all(entries.map((e) => this.put(e as unknown as T)));
  }

  /** The entry of a kind and path, or undefined. */
  async get(kind: string, path: string): Promise<T | undefined> {
    const e = await this.#kv.get(twinKey(kind, path));
    return e === null || e.operation !== 'PUT' ? undefined : this.#decode(e);
  }

  /** Deletes the entry of a kind and path (watchers see a `delete`). */
  async delete(kind: string, path: string): Promise<void> {
    await this.#kv.delete(twinKey(kind, path));
  }

  /**
   * Every current entry whose path matches the MQTT-style `pattern` (`+` one segment, a final
   * `#` any number), of one kind or all kinds, sorted by kind and path.
   */
  async snapshot(pattern: string, kind?: string): Promise<T[]> {
    return (await this.snapshotWithRevisions(pattern, kind)).map((e) => e.entry);
  }

  /**
   * {@link snapshot} with each entry's key path and revision (for mirrors that then follow
   * {@link watch} and skip changes they already have).
   */
  async snapshotWithRevisions(
    pattern: string,
    kind?: string,
  ): Promise<{ entry: T; keyPath: string; revision: number }[]> {
    const filter = twinKeyFilter(kind, pattern);
    const keys: string[] = [];
    for await (const k of await this.#kv.keys(filter)) keys.push(k);
    const entries = await Promise.all(keys.map((k) => this.#kv.get(k)));
    const out: { entry: T; keyPath: string; revision: number }[] = [];
    for (const e of entries) {
      if (e === null || e.operation !== 'PUT') continue;
      const keyPath = keyPathOf(e.key);
      const rec = this.#decode(e);
      if (rec !== undefined && matchPath(pattern, keyPath))
        out.push({ entry: rec, keyPath, revision: e.revision });
    }
    out.sort((a, b) =>
      a.entry.kind === b.entry.kind ? (a.keyPath < b.keyPath ? -1 : 1) : a.entry.kind < b.entry.kind ? -1 : 1,
    );
    return out;
  }

  /**
   * Calls `listener` with every change of an entry whose key path matches `pattern` (and
   * `kind`), in order. With `includeCurrent` the current entries come first (as puts).
   * Resolves once watching.
   */
  async watch(
    pattern: string,
    listener: (change: TwinStoreChange<T>) => void,
    options: { kind?: string; includeCurrent?: boolean } = {},
  ): Promise<{ stop(): void }> {
    const filter = twinKeyFilter(options.kind, pattern);
    const iter = await this.#kv.watch({
      key: filter,
      include: options.includeCurrent === true ? KvWatchInclude.LastValue : KvWatchInclude.UpdatesOnly,
    });
    void (async () => {
      for await (const e of iter) {
        const kind = e.key.slice(0, e.key.indexOf('.'));
        const keyPath = keyPathOf(e.key);
        if (!matchPath(pattern, keyPath)) continue;
        if (e.operation === 'PUT') {
          const rec = this.#decode(e);
          if (rec !== undefined) listener({ op: 'put', entry: rec, keyPath, revision: e.revision });
        } else {
          listener({ op: 'delete', kind, path: keyPath, revision: e.revision });
        }
      }
    })().catch((err: unknown) => this.#log.error({ err, pattern }, 'twin watch ended with an error'));
    return { stop: () => iter.stop() };
  }

  /** Deletes the whole bucket (tests, teardown). */
  async destroy(): Promise<void> {
    await this.#kv.destroy();
  }

  #decode(e: KvEntry): T | undefined {
    try {
      return JSON.parse(decoder.decode(e.value)) as T;
    } catch (err: unknown) {
      this.#log.warn({ err, key: e.key }, 'twin entry is not JSON; ignored');
      return undefined;
    }
  }
}
