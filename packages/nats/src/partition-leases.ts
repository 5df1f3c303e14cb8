import { GembaError, type Logger, PATH_SEGMENT, silentLogger } from '@gemba/core';
import { StorageType } from '@nats-io/jetstream';
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

/**
 * Spreads partitions (the lines of the plant model) over the members of a group (engine
 * processes) with leases in a JetStream KV bucket, so that each partition has at most one owner
 * and a dead owner's partitions move to the others.
 *
 * Each round (every `leaseMs / 3`): a member renews its membership key and its leases with a
 * compare-and-set on their revision (a failed renewal means the lease is lost), counts the live
 * members, releases leases beyond its fair share `ceil(partitions / members)` and takes free
 * ones (create-if-absent) up to it. The bucket's TTL removes the keys of a member that stopped
 * renewing. A member that stops cleanly deletes its keys so the others take over at once.
 *
 * @example
 * const leases = await PartitionLeases.start(nc, { partitions: lines, member: 'engine-a',
 *   handlers: { acquired: (line) => startLine(line), lost: (line) => stopLine(line) } });
 */
export class PartitionLeases {
  readonly #kv: KV;
  readonly #o: Required<Omit<PartitionLeasesOptions, 'logger' | 'replicas' | 'bucket'>>;
  readonly #log: Logger;
  /** Partition → revision of our lease. */
  readonly #owned = new Map<string, number>();
  #memberRev = 0;
  #lastRoundOk = Date.now();
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> = Promise.resolve();
  #stopped = false;

  private constructor(kv: KV, options: PartitionLeasesOptions, log: Logger) {
    this.#kv = kv;
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
    try {
      kv = await new Kvm(nc).create(bucket, {
        history: 1,
        ttl: leaseMs,
        replicas: options.replicas ?? 1,
        storage: StorageType.Memory,
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
    const leases = new PartitionLeases(kv, options, log);
    await leases.#runRound();
    leases.#schedule();
    return leases;
  }

  /** The partitions this member owns now, sorted. */
  owned(): string[] {
    return [...this.#owned.keys()].sort();
  }

  #key(partition: string): string {
    return `lease.${partition.replaceAll('/', '.')}`;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(
      () => {
        this.#round = this.#runRound().finally(() => this.#schedule());
      },
      Math.max(50, Math.floor(this.#o.leaseMs / 3)),
    );
  }

  async #runRound(): Promise<void> {
    try {
      await this.#round1();
      this.#lastRoundOk = Date.now();
    } catch (err: unknown) {
      this.#log.warn({ err }, 'lease round failed; retrying next round');
      // Unable to renew: before the others may take our leases over (after leaseMs), stop
      // treating them as ours, so no partition ever has two working owners.
      if (this.#owned.size > 0 && Date.now() - this.#lastRoundOk >= this.#o.leaseMs * 0.8) {
        for (const p of this.owned()) {
          this.#owned.delete(p);
          this.#log.warn({ partition: p }, 'lease lost (cannot renew)');
          await this.#o.handlers
            .lost(p)
            .catch((e: unknown) => this.#log.error({ err: e }, 'lost handler failed'));
        }
      }
    }
  }

  async #round1(): Promise<void> {
    const { member, handlers, partitions } = this.#o;
    const me = new TextEncoder().encode(member);
    this.#memberRev = await this.#kv.put(`member.${member}`, me);
    // Renew what we hold; a failed compare-and-set means someone else holds it now.
    for (const [p, rev] of [...this.#owned]) {
      try {
        this.#owned.set(p, await this.#kv.update(this.#key(p), me, rev));
      } catch (err: unknown) {
        this.#log.warn({ partition: p, err }, 'lease lost');
        this.#owned.delete(p);
        await handlers.lost(p);
      }
    }
    let members = 0;
    for await (const _ of await this.#kv.keys('member.*')) members++;
    const share = Math.ceil(partitions.length / Math.max(1, members));
    // Release beyond the fair share (a member joined), newest-sorted last first.
    const mine = this.owned();
    while (mine.length > share && !this.#stopped) {
      const p = mine.pop() as string;
      await this.#release(p);
    }
    // Take free partitions up to the share.
    for (const p of partitions) {
      if (this.#owned.size >= share || this.#stopped) break;
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
        await handlers.acquired(p);
      } catch (err: unknown) {
        // Could not start working on it: let another member try.
        this.#log.error({ partition: p, err }, 'acquired handler failed; releasing the lease');
        await this.#release(p);
      }
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
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#round;
    for (const p of this.owned()) await this.#release(p);
    await this.#kv
      .delete(`member.${this.#o.member}`, { previousSeq: this.#memberRev })
      .catch(() => undefined);
  }
}
