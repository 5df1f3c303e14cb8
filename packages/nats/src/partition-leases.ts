import { GembaError, type Logger, PATH_SEGMENT, silentLogger } from '@gemba/core';
import { type JetStreamManager, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';

/** What a {@link PartitionLeases} member does when it gains or loses a partition. */
export interface LeaseHandlers {
  /** This member now owns `partition` (start its consumer). Awaited before the next round. */
  acquired(partition: string): Promise<void>;
  /**
   * This member no longer owns `partition` (stop its consumer): released for balance or on stop,
   * or the lease could not be renewed. Awaited before a released lease is deleted.
   */
  lost(partition: string): Promise<void>;
}

/** Options of {@link PartitionLeases.start}. */
export interface PartitionLeasesOptions {
  /** Every partition (e.g. line paths) to spread over the members; path segments only. */
  partitions: readonly string[];
  /** This member's id, unique among the members (e.g. `engine-<host>-<pid>`). */
  member: string;
  handlers: LeaseHandlers;
  /** KV bucket of the leases. Default `gemba-leases`. */
  bucket?: string;
  /**
   * A lease not renewed for this long expires (the bucket's TTL), ms. A dead member's
   * partitions move after at most this plus one round. Default 5 000.
   */
  leaseMs?: number;
  /** Copies in a cluster. Default 1. */
  replicas?: number;
  logger?: Logger;
}

const MEMBER_ID = /^[A-Za-z0-9_-]+$/;
const encoder = new TextEncoder();

/**
 * Spreads partitions (the lines of the plant model) over the members of a group (engine
 * processes) with leases in a JetStream KV bucket, so that each partition has at most one owner
 * and a dead owner's partitions move to the others.
 *
 * Every `leaseMs / 3` a member renews its membership key and its leases with a compare-and-set
 * on their revision (a failed renewal means the lease is lost; no renewal for 0.8 × `leaseMs`
 * means all are), and, in a separate loop, counts the live members, releases leases beyond its
 * fair share `ceil(partitions / members)` and takes free ones (create-if-absent) up to it. The bucket's TTL removes the keys of a member that stopped
 * renewing. A member that stops cleanly deletes its keys so the others take over at once.
 *
 * @example
 * const leases = await PartitionLeases.start(nc, { partitions: lines, member: 'engine-a',
 *   handlers: { acquired: (line) => startLine(line), lost: (line) => stopLine(line) } });
 */
export class PartitionLeases {
  readonly #kv: KV;
  readonly #jsm: JetStreamManager;
  readonly #bucket: string;
  readonly #o: Required<Omit<PartitionLeasesOptions, 'logger' | 'replicas' | 'bucket'>>;
  readonly #log: Logger;
  /** Partition → revision of our lease. */
  readonly #owned = new Map<string, number>();
  #memberRev = 0;
  #lastRenewOk = Date.now();
  readonly #timers: { renew?: NodeJS.Timeout; balance?: NodeJS.Timeout } = {};
  readonly #running: { renew: Promise<void>; balance: Promise<void> } = {
    renew: Promise.resolve(),
    balance: Promise.resolve(),
  };
  #work: Promise<void> = Promise.resolve();
  #stopped = false;
  #closing = false;

  private constructor(
    kv: KV,
    jsm: JetStreamManager,
    bucket: string,
    options: PartitionLeasesOptions,
    log: Logger,
  ) {
    this.#kv = kv;
    this.#jsm = jsm;
    this.#bucket = bucket;
    this.#o = {
      partitions: options.partitions,
      member: options.member,
      handlers: options.handlers,
      leaseMs: options.leaseMs ?? 5_000,
    };
    this.#log = log;
  }

  /**
   * Joins the group, runs the first round and keeps running rounds until {@link stop}.
   * @throws GembaError GEMBA_INVALID_ARGUMENT for a bad member id or partition path;
   * GEMBA_BUS_UNAVAILABLE when the bucket cannot be opened.
   */
  static async start(nc: NatsConnection, options: PartitionLeasesOptions): Promise<PartitionLeases> {
    if (!MEMBER_ID.test(options.member))
      throw new GembaError('GEMBA_INVALID_ARGUMENT', `member id '${options.member}' is not allowed`);
    for (const p of options.partitions) {
      if (!p.split('/').every((s) => PATH_SEGMENT.test(s)))
        throw new GembaError('GEMBA_INVALID_ARGUMENT', `partition '${p}' is not a namespace path`);
    }
    const bucket = options.bucket ?? 'gemba-leases';
    const leaseMs = options.leaseMs ?? 5_000;
    const log = (options.logger ?? silentLogger()).child({
      component: 'nats.leases',
      member: options.member,
    });
    let kv: KV;
    let jsm: JetStreamManager;
    try {
      jsm = await jetstreamManager(nc);
      const kvm = new Kvm(nc);
      kv = await kvm
        .create(bucket, {
          history: 1,
          ttl: leaseMs,
          replicas: options.replicas ?? 1,
          // File storage: the leases survive a NATS restart (a memory bucket would vanish with it).
          storage: StorageType.File,
        })
        .catch(async (err: unknown) => {
          // It exists with other settings: the members agree on the first one's lease time.
          log.warn({ err, bucket }, 'lease bucket exists with other settings; using it as it is');
          return await kvm.open(bucket);
        });
    } catch (err: unknown) {
      throw new GembaError(
        'GEMBA_BUS_UNAVAILABLE',
        `cannot open lease bucket '${bucket}': ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    const leases = new PartitionLeases(kv, jsm, bucket, options, log);
    await leases.#renew();
    await leases.#balance();
    leases.#loop('renew');
    leases.#loop('balance');
    return leases;
  }

  /** The partitions this member owns now, sorted. */
  owned(): string[] {
    return [...this.#owned.keys()].sort();
  }

  #key(partition: string): string {
    return `lease.${partition.replaceAll('/', '.')}`;
  }

  // Two loops: renewals never wait for handlers (stopping a consumer can take a second), so a
  // slow hand-over cannot let this member's other leases expire.
  #loop(which: 'renew' | 'balance'): void {
    if (which === 'renew' ? this.#stopped : this.#closing) return;
    const t = setTimeout(
      () => {
        const run = which === 'renew' ? this.#renew() : this.#balance();
        this.#running[which] = run.finally(() => this.#loop(which));
      },
      Math.max(50, Math.floor(this.#o.leaseMs / 3)),
    );
    this.#timers[which] = t;
  }

  /** Runs `fn` after the handler work queued before it (handlers never run concurrently). */
  #queue(fn: () => Promise<void>): Promise<void> {
    const next = this.#work.then(fn, fn);
    this.#work = next.catch((err: unknown) => this.#log.error({ err }, 'lease handler failed'));
    return this.#work;
  }

  #lose(p: string, why: string): void {
    this.#owned.delete(p);
    this.#log.warn({ partition: p }, `lease lost (${why})`);
    void this.#queue(() => this.#o.handlers.lost(p));
  }

  async #renew(): Promise<void> {
    const me = encoder.encode(this.#o.member);
    try {
      this.#memberRev = await this.#kv.put(`member.${this.#o.member}`, me);
      // A failed compare-and-set means someone else holds the lease now.
      for (const [p, rev] of [...this.#owned]) {
        try {
          const next = await this.#kv.update(this.#key(p), me, rev);
          if (this.#owned.get(p) === rev) this.#owned.set(p, next);
        } catch (err: unknown) {
          if (this.#owned.get(p) === rev) this.#lose(p, (err as Error).message);
        }
      }
      this.#lastRenewOk = Date.now();
    } catch (err: unknown) {
      this.#log.warn({ err }, 'lease renewal failed; retrying');
      // Before the others may take our leases over (after leaseMs), stop treating them as
      // ours, so no partition ever has two working owners.
      if (Date.now() - this.#lastRenewOk >= this.#o.leaseMs * 0.8) {
        for (const p of this.owned()) this.#lose(p, 'cannot renew');
      }
    }
  }

  /**
   * Live members: the membership keys whose last operation is a put. Read from the stream's
   * per-subject state (one request) rather than a key listing, which can wait for a heartbeat
   * when a key expires while it is being listed.
   */
  async #countMembers(): Promise<number> {
    const prefix = `$KV.${this.#bucket}.member.`;
    const info = await this.#jsm.streams.info(`KV_${this.#bucket}`, { subjects_filter: `${prefix}>` });
    let n = 0;
    for (const subject of Object.keys(info.state.subjects ?? {})) {
      const e = await this.#kv.get(subject.slice(`$KV.${this.#bucket}.`.length));
      if (e !== null && e.operation === 'PUT') n++;
    }
    return n;
  }

  async #balance(): Promise<void> {
    try {
      await this.#work;
      const { partitions } = this.#o;
      const members = await this.#countMembers();
      const share = Math.ceil(partitions.length / Math.max(1, members));
      // Release beyond the fair share (a member joined), last in sort order first.
      const mine = this.owned();
      while (mine.length > share && !this.#closing) await this.#release(mine.pop() as string);
      // Take free partitions up to the share.
      const me = encoder.encode(this.#o.member);
      for (const p of partitions) {
        if (this.#owned.size >= share || this.#closing) break;
        if (this.#owned.has(p)) continue;
        let rev: number;
        try {
          rev = await this.#kv.create(this.#key(p), me);
        } catch {
          continue; // held by another member
        }
        this.#owned.set(p, rev);
        this.#log.info({ partition: p }, 'lease acquired');
        try {
          await this.#o.handlers.acquired(p);
        } catch (err: unknown) {
          // Could not start working on it: let another member try.
          this.#log.error({ partition: p, err }, 'acquired handler failed; releasing the lease');
          await this.#release(p);
        }
      }
    } catch (err: unknown) {
      this.#log.warn({ err }, 'lease balancing failed; retrying');
    }
  }

  async #release(p: string): Promise<void> {
    const rev = this.#owned.get(p);
    this.#owned.delete(p);
    await this.#o.handlers
      .lost(p)
      .catch((err: unknown) => this.#log.error({ partition: p, err }, 'lost handler failed'));
    if (rev !== undefined) {
      await this.#kv.delete(this.#key(p), { previousSeq: rev }).catch(() => undefined);
      this.#log.info({ partition: p }, 'lease released');
    }
  }

  /** Stops the rounds, calls `lost` for every owned partition and deletes this member's keys. */
  async stop(): Promise<void> {
    if (this.#closing) return;
    // Balancing ends first; renewals go on while the leases are handed back one by one.
    this.#closing = true;
    clearTimeout(this.#timers.balance);
    await this.#running.balance;
    await this.#work;
    // In parallel: each hand-over waits for its consumers to stop (up to a pull expiry).
    await Promise.all(this.owned().map((p) => this.#release(p)));
    this.#stopped = true;
    clearTimeout(this.#timers.renew);
    await this.#running.renew;
    await this.#kv
      .delete(`member.${this.#o.member}`, { previousSeq: this.#memberRev })
      .catch(() => undefined);
  }
}
