import { commandSkipReason, IN_CI, portOpen } from '@gemba/core/testing';
import { NATS_SERVER_BIN, NatsServerProcess } from '../src/testing/index.ts';

/** Where the tests find a nats-server with JetStream, and how to release it. */
export interface TestNats {
  url: string;
  /** Stops a server the tests started; nothing for the shared one. */
  release(): Promise<void>;
}

/**
 * The shared nats-server on 127.0.0.1:4222 when it runs; otherwise one started for these tests
 * (own port and store). Undefined, with a warning, when neither is possible on a user's machine;
 * under CI that throws instead.
 */
export async function testNats(): Promise<TestNats | undefined> {
  if (await portOpen(4222)) return { url: 'nats://127.0.0.1:4222', release: async () => {} };
  const why = await commandSkipReason(NATS_SERVER_BIN, 'apt-get install nats-server, or start one on 4222');
  if (why !== undefined) {
    if (IN_CI) throw new Error(`GEMBA_SERVICE_REQUIRED: ${why}`);
    return undefined;
  }
  const srv = await NatsServerProcess.start();
  return { url: srv.url, release: () => srv.cleanup() };
}
