import { connect } from 'node:net';

/** True when a TCP port on 127.0.0.1 accepts connections within `timeoutMs`. */
export function portOpen(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ port, host });
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** True when running under CI (`CI=true`), where a missing service is a failure, not a skip. */
export const IN_CI = process.env.CI === 'true' || process.env.CI === '1';

/** Local services the tests use, with where they listen. */
export const SERVICES = {
  postgres: { port: 5432, start: 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start' },
  nats: { port: 4222, start: 'nats-server -a 127.0.0.1 -p 4222 -js' },
  mosquitto: { port: 1883, start: 'mosquitto -d -c /etc/mosquitto/mosquitto.conf' },
} as const;

/**
 * Decides whether tests needing `service` run. Returns a skip reason when the service is down
 * on a user's machine; under CI a down service throws instead, so the run fails.
 *
 * @example
 * const skip = await serviceSkipReason('mosquitto');
 * describe.skipIf(skip !== undefined)('mqtt', () => { ... });
 */
export async function serviceSkipReason(service: keyof typeof SERVICES): Promise<string | undefined> {
  const s = SERVICES[service];
  if (await portOpen(s.port)) return undefined;
  const reason = `${service} is not running on 127.0.0.1:${s.port} (start it with: ${s.start})`;
  if (IN_CI) throw new Error(`GEMBA_SERVICE_REQUIRED: ${reason}; required under CI=true`);
  console.warn(`skipping: ${reason}`);
  return reason;
}

/**
 * Same as {@link serviceSkipReason} for a command-line tool (e.g. `mbpoll`, `/usr/bin/chromium`).
 */
export async function commandSkipReason(command: string, hint: string): Promise<string | undefined> {
  const { execFileSync } = await import('node:child_process');
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return undefined;
  } catch {
    const reason = `${command} is not installed (${hint})`;
    if (IN_CI) throw new Error(`GEMBA_SERVICE_REQUIRED: ${reason}; required under CI=true`);
    console.warn(`skipping: ${reason}`);
    return reason;
  }
}
