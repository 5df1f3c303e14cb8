import { GembaError } from '@gemba/core';
import { connect, type NatsConnection } from '@nats-io/transport-node';

/** Options of {@link connectNats}. */
export interface ConnectNatsOptions {
  /** One or more server URLs, e.g. `nats://127.0.0.1:4222`; a cluster's members for failover. */
  servers: string | string[];
  /** Connection name shown by the server (`nats server report connections`). */
  name?: string;
  /** Time to wait for the first connection, ms. Default 5 000. */
  timeoutMs?: number;
  /** Wait between reconnect attempts, ms. Default 250. */
  reconnectWaitMs?: number;
}

/**
 * Connects to NATS with the settings Gemba's bus and twin store rely on: reconnect forever
 * (the bus retries publishes and consumers resume after an outage), no async stack traces
 * (a measured cost on the publish path), and a bounded first connect.
 *
 * @throws GembaError GEMBA_BUS_UNAVAILABLE naming the servers when none can be reached.
 * @example
 * const nc = await connectNats({ servers: 'nats://127.0.0.1:4222', name: 'gemba-engine' });
 */
export async function connectNats(options: ConnectNatsOptions): Promise<NatsConnection> {
  const servers = Array.isArray(options.servers) ? options.servers : [options.servers];
  try {
    return await connect({
      servers,
      name: options.name ?? 'gemba',
      timeout: options.timeoutMs ?? 5_000,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: options.reconnectWaitMs ?? 250,
      reconnectJitter: 50,
      noAsyncTraces: true,
    });
  } catch (err: unknown) {
    throw new GembaError('GEMBA_BUS_UNAVAILABLE', `cannot connect to NATS at ${servers.join(', ')}`, {
      cause: err,
      details: { servers },
    });
  }
}
