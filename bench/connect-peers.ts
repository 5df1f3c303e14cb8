// Peers for bench/connect.ts, run in a child process so that they don't share Gemba's event loop.
//   opcua <items> <intervalMs>        node-opcua server, <items> Doubles changing every <intervalMs>
//   sparkplug <url> <group> <metrics> an edge node publishing DDATA with <metrics> metrics, flat out
// Prints one line when ready (the endpoint, or "ready"), then runs until killed.
import mqtt from 'mqtt';
import { encodeSparkplug } from '../packages/connect/src/mqtt/sparkplug/codec.ts';

const [mode, a, b, c, d] = process.argv.slice(2);
if (mode === 'opcua') {
  const { startOpcuaServer } = await import('../packages/connect/test/fixtures/opcua-server.ts');
  const s = await startOpcuaServer(a as string, 0, 0, Number(b), Number(c));
  console.log(s.endpoint);
} else if (mode === 'sparkplug') {
  const url = a as string;
  const group = b as string;
  const n = Number(c);
  const seconds = Number(d ?? 10);
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
  const metrics = Array.from({ length: n }, (_, i) => ({
    name: `m${i}`,
    alias: i + 1,
    type: 'Double' as const,
    value: 0,
  }));
  let seq = 0;
  const next = (): number => {
    const s = seq;
    seq = (seq + 1) % 256;
    return s;
  };
  const birth = async (): Promise<void> => {
    seq = 0;
    await client.publishAsync(
      `spBv1.0/${group}/NBIRTH/edge`,
      Buffer.from(
        encodeSparkplug({
          timestamp: Date.now(),
          seq: next(),
          metrics: [{ name: 'bdSeq', type: 'UInt64', value: 0 }],
        }),
      ),
    );
    await client.publishAsync(
      `spBv1.0/${group}/DBIRTH/edge/dev`,
      Buffer.from(encodeSparkplug({ timestamp: Date.now(), seq: next(), metrics })),
    );
  };
  client.on('message', () => void birth());
  await client.subscribeAsync(`spBv1.0/${group}/NCMD/edge`);
  await birth();
  console.log('ready');
  // One pre-encoded DDATA per seq value (0..255), so the figure is the host's decoding, not
  // this publisher's encoding. Values differ per message.
  const ddata: Buffer[] = [];
  const base = seq;
  for (let k = 0; k < 256; k++) {
    ddata.push(
      Buffer.from(
        encodeSparkplug({
          timestamp: Date.now(),
          seq: (base + k) % 256,
          metrics: metrics.map((m) => ({
            alias: m.alias,
            type: 'Double' as const,
            value: k + m.alias,
            timestamp: Date.now(),
          })),
        }),
      ),
    );
  }
  let v = 0;
  const end = Date.now() + seconds * 1000;
  // QoS 1 with a window of publishes in flight: fast, and nothing is dropped under load.
  const inflight: Promise<unknown>[] = [];
  while (Date.now() < end) {
    inflight.push(
      client.publishAsync(`spBv1.0/${group}/DDATA/edge/dev`, ddata[v % 256] as Buffer, { qos: 1 }),
    );
    v++;
    if (inflight.length >= 256) await Promise.all(inflight.splice(0));
  }
  await Promise.all(inflight);
  console.log(`published ${v}`);
  await client.endAsync();
  process.exit(0);
}
