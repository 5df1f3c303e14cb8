import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where the nats-server binary is (Debian's package). Override with `NATS_SERVER_BIN`. */
export const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

/** A free TCP port on 127.0.0.1 (asked from the OS with port 0, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Options of {@link NatsServerProcess}. */
export interface NatsServerOptions {
  /** Client port; default a free one. */
  port?: number;
  /** JetStream store folder; default a new temporary folder, removed by {@link NatsServerProcess.cleanup}. */
  storeDir?: string;
  /** Server name (required, and unique, in a cluster). */
  name?: string;
  /** Cluster membership: this server's route port and every member's route URL. */
  cluster?: { name: string; port: number; routes: string[] };
  /** Time to wait for the server to accept clients, ms. Default 10 000. */
  readyTimeoutMs?: number;
}

/**
 * A nats-server process of a test's own (never the shared one on 4222), with JetStream on
 * loopback. It can be stopped and started again on the same port and store, or killed.
 *
 * @example
 * const srv = await NatsServerProcess.start();
 * ... connect to srv.url ...
 * await srv.cleanup();
 */
export class NatsServerProcess {
  readonly port: number;
  readonly storeDir: string;
  readonly #ownsStore: boolean;
  readonly #options: NatsServerOptions;
  #proc: ChildProcess | undefined;
  #log = '';

  private constructor(port: number, storeDir: string, ownsStore: boolean, options: NatsServerOptions) {
    this.port = port;
    this.storeDir = storeDir;
    this.#ownsStore = ownsStore;
    this.#options = options;
  }

  /** Starts a server and resolves once it accepts clients. */
  static async start(options: NatsServerOptions = {}): Promise<NatsServerProcess> {
    const port = options.port ?? (await freePort());
    const own = options.storeDir === undefined;
    const dir = options.storeDir ?? mkdtempSync(join(tmpdir(), 'gemba-nats-'));
    const srv = new NatsServerProcess(port, dir, own, options);
    await srv.restart();
    return srv;
  }

  /** The client URL. */
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** The process id while it runs. */
  get pid(): number | undefined {
    return this.#proc?.pid;
  }

  /** True while the process runs. */
  get running(): boolean {
    return this.#proc !== undefined;
  }

  /** The server's log so far (for failure messages). */
  get log(): string {
    return this.#log;
  }

  /** Starts the process again (same port, same store); resolves once it is ready for clients. */
  async restart(): Promise<void> {
    if (this.#proc !== undefined) throw new Error(`nats-server on ${this.port} is already running`);
    const o = this.#options;
    const args = ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.storeDir];
    if (o.name !== undefined) args.push('-n', o.name);
    if (o.cluster !== undefined) {
      args.push('--cluster_name', o.cluster.name, '--cluster', `nats://127.0.0.1:${o.cluster.port}`);
      args.push('--routes', o.cluster.routes.join(','));
    }
    const proc = spawn(NATS_SERVER_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#proc = proc;
    const timeoutMs = o.readyTimeoutMs ?? 10_000;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`nats-server on ${this.port} not ready in ${timeoutMs} ms:\n${this.#log}`)),
        timeoutMs,
      );
      proc.stderr?.on('data', (d: Buffer) => {
        this.#log += d.toString();
        if (this.#log.length > 200_000) this.#log = this.#log.slice(-100_000);
        if (this.#log.includes('Server is ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        if (this.#proc === proc) this.#proc = undefined;
        reject(new Error(`nats-server on ${this.port} exited with ${code}:\n${this.#log}`));
      });
    });
    this.#log = '';
  }

  /** Stops the process with `signal` (SIGTERM: a clean shutdown; SIGKILL: a crash) and waits for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const proc = this.#proc;
    if (proc === undefined) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    await exited;
    this.#proc = undefined;
  }

  /** Stops the process and removes a store folder it created. */
  async cleanup(): Promise<void> {
    await this.stop('SIGKILL');
    if (this.#ownsStore) rmSync(this.storeDir, { recursive: true, force: true });
  }
}

/**
 * Three (or `size`) nats-server processes forming one JetStream cluster on loopback ports.
 * Servers may take a few seconds to elect a meta leader; callers retry their first stream
 * creation.
 */
export async function startNatsCluster(size = 3): Promise<NatsServerProcess[]> {
  const clusterPorts: number[] = [];
  for (let i = 0; i < size; i++) clusterPorts.push(await freePort());
  const routes = clusterPorts.map((p) => `nats://127.0.0.1:${p}`);
  const name = `gemba-test-${process.pid}`;
  return Promise.all(
    clusterPorts.map((port, i) =>
      NatsServerProcess.start({ name: `n${i + 1}`, cluster: { name, port, routes } }),
    ),
  );
}
