import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { GembaError, type MqttJsonSourceDef, type SparkplugSourceDef } from '@gemba/core';
import mqtt from 'mqtt';

/** Options for {@link mqttOptions}: a will to register and the client id prefix. */
export interface MqttConnectExtras {
  will?: { topic: string; payload: Buffer; qos: 0 | 1 | 2; retain: boolean };
}

/**
 * mqtt.js client options from a source definition: MQTT 3.1.1 or 5, user/password (the
 * password from the environment variable the model names), a unique client id, automatic
 * reconnect every second (mqtt.js's own loop; subscriptions are restored on reconnect), and
 * TLS files when the source has `tls`.
 * @throws GembaError GEMBA_CONFIG_INVALID when a TLS file cannot be read.
 */
export function mqttOptions(
  def: MqttJsonSourceDef | SparkplugSourceDef,
  extras: MqttConnectExtras = {},
): mqtt.IClientOptions {
  const opts: mqtt.IClientOptions = {
    clientId: `gemba-${def.id}-${randomUUID().slice(0, 8)}`,
    protocolVersion: def.mqttVersion,
    reconnectPeriod: 1000,
    // A broker that refuses the CONNECT (bad credentials, not authorised) is retried too: the
    // operator may fix its password file or ACL without restarting Gemba.
    reconnectOnConnackError: true,
    connectTimeout: 5000,
    clean: true,
  };
  if (def.username !== undefined) opts.username = def.username;
  if (def.passwordEnv !== undefined) {
    const pw = process.env[def.passwordEnv];
    if (pw !== undefined) opts.password = pw;
  }
  if (extras.will !== undefined) opts.will = extras.will;
  const tls = def.tls;
  if (tls !== undefined) {
    const read = (file: string | undefined, what: string): Buffer | undefined => {
      if (file === undefined) return undefined;
      try {
        return readFileSync(file);
      } catch (err: unknown) {
        throw new GembaError(
          'GEMBA_CONFIG_INVALID',
          `source '${def.id}': cannot read TLS ${what} file ${file}`,
          {
            cause: err,
            details: { source: def.id, file },
          },
        );
      }
    };
    const ca = read(tls.caFile, 'CA');
    const cert = read(tls.certFile, 'certificate');
    const key = read(tls.keyFile, 'key');
    if (ca !== undefined) opts.ca = ca;
    if (cert !== undefined) opts.cert = cert;
    if (key !== undefined) opts.key = key;
    opts.rejectUnauthorized = tls.rejectUnauthorized;
  }
  return opts;
}

/**
 * The broker's refusal of a CONNECT (MQTT 3.1.1 §3.2.2.3 return codes 1-5, MQTT 5 §3.2.2.2
 * reason codes ≥ 0x80, e.g. "Connection refused: Not authorized"), or undefined for any other
 * client error.
 */
export function connackRefusal(err: unknown): string | undefined {
  if (!(err instanceof Error) || !err.message.startsWith('Connection refused')) return undefined;
  return err.message;
}

/**
 * A broker refuses every reconnect for the same reason: this keeps the last one so that each
 * distinct refusal is reported once.
 */
export class RefusalOnce {
  #last: string | undefined;
  /** The refusal in `err` when it differs from the last one, else undefined. */
  take(err: unknown): string | undefined {
    const refused = connackRefusal(err);
    if (refused === undefined || refused === this.#last) return undefined;
    this.#last = refused;
    return refused;
  }
  /** Forgets the last refusal (the broker accepted us). */
  reset(): void {
    this.#last = undefined;
  }
}

/** Connects (without waiting) and returns the client. */
export function connectMqtt(url: string, options: mqtt.IClientOptions): mqtt.MqttClient {
  return mqtt.connect(url, options);
}

/** True when an MQTT topic matches a subscription filter (`+` one level, `#` the rest; MQTT 3.1.1 §4.7). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const x = f[i];
    if (x === '#') return true;
    if (i >= t.length) return false;
    if (x !== '+' && x !== t[i]) return false;
  }
  return f.length === t.length;
}
