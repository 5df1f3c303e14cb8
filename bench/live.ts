// Latency from a value change at the plant emulator to its arrival in the browser, per
// protocol (OPC UA, Modbus TCP, Sparkplug B), with the demo running (emulator → connect →
// bus → engine → API WebSocket → dashboard in Debian's Chromium); and the dashboard's
// JavaScript size (gzip).
// Run: npx tsx bench/live.ts [--changes 40]   (needs Mosquitto on 127.0.0.1:1883 and /usr/bin/chromium)
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { launchChromium, startDemoStack, WEB_ROOT } from '../test/e2e/demo-stack.ts';

const arg = process.argv.indexOf('--changes');
const CHANGES = arg > 0 ? Number(process.argv[arg + 1]) : 40;
const LINE = 'acme/plant1/assembly/line1';
// One writable signal per protocol; the emulator serves each change like a PLC would.
const PROBES = [
  { protocol: 'OPC UA', signal: `${LINE}/press/speed_setpoint`, base: 90 },
  { protocol: 'Modbus TCP', signal: `${LINE}/oven/zone2/setpoint`, base: 170 },
  { protocol: 'Sparkplug B', signal: `${LINE}/assembly/speed_setpoint`, base: 90 },
];

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] as number;
}

execFileSync('npx', ['vite', 'build', '--logLevel', 'error'], {
  cwd: fileURLToPath(new URL('../packages/web/', import.meta.url)),
  stdio: 'inherit',
});
const assets = path.join(WEB_ROOT, 'assets');
let jsRaw = 0;
let jsGzip = 0;
for (const f of readdirSync(assets).filter((n) => n.endsWith('.js'))) {
  const buf = readFileSync(path.join(assets, f));
  jsRaw += buf.length;
  jsGzip += gzipSync(buf, { level: 9 }).length;
}

const stack = await startDemoStack({ speed: 1, mqttUrl: 'mqtt://127.0.0.1:1883' });
const browser = await launchChromium();
const rows: {
  protocol: string;
  n: number;
  lost: number;
  p50: number;
  p99: number;
  max: number;
  busToBrowserP50: number;
  busToBrowserP99: number;
}[] = [];
try {
  const page = await browser.newPage();
  // The dashboard calls window.gembaProbe(path, value, receivedAtMs) for every value it applies.
  const waiters = new Map<string, { value: number; resolve: (t: number) => void }>();
  await page.exposeFunction('gembaProbeReport', (p: string, v: unknown, t: number) => {
    const w = waiters.get(p);
    if (w !== undefined && typeof v === 'number' && Math.abs(v - w.value) < 1e-3) {
      waiters.delete(p);
      w.resolve(t);
    }
  });
  await page.addInitScript(() => {
    const report = (window as unknown as { gembaProbeReport: (p: string, v: unknown, t: number) => void })
      .gembaProbeReport;
    (window as unknown as { gembaProbe: unknown }).gembaProbe = (p: string, v: unknown, t: number) => {
      void report(p, v, t);
    };
  });
  // When each probed value reached the bus (after the protocol and the edge stage).
  const onBus = new Map<string, number>();
  const probed = new Set(PROBES.map((p) => p.signal));
  await stack.bus.consume(
    { durable: 'bench-live', filter: 'gemba.samples.>', deliverFrom: { kind: 'new' } },
    (m) => {
      const t = Date.now();
      for (let i = 0; i < m.batch.length; i++) {
        const s = m.batch.signals[i] as string;
        if (probed.has(s)) {
          const key = `${s}=${Number(m.batch.valueAt(i)).toFixed(3)}`;
          if (!onBus.has(key)) onBus.set(key, t);
        }
      }
      m.ack();
    },
  );
  await page.goto(`${stack.url}/?token=${stack.tokens.viewer.token}`);
  await page.waitForFunction(
    () =>
      [...document.querySelectorAll('[data-testid=station]')].every(
        (s) => s.getAttribute('data-state') !== 'offline',
      ),
    undefined,
    { timeout: 60_000 },
  );
  for (const probe of PROBES) {
    const lat: number[] = [];
    const platform: number[] = [];
    let lost = 0;
    for (let i = 0; i < CHANGES; i++) {
      const value = probe.base + (i % 20) + 1;
      const arrived = new Promise<number>((resolve) => waiters.set(probe.signal, { value, resolve }));
      const t0 = Date.now();
      if (!stack.plant.write(probe.signal, value, 'bench'))
        throw new Error(`the emulator refused ${probe.signal}=${value}`);
      const t = await Promise.race([arrived, new Promise<number>((r) => setTimeout(() => r(-1), 5000))]);
      if (t < 0) {
        lost++;
        waiters.delete(probe.signal);
      } else {
        lat.push(t - t0);
        const b = onBus.get(`${probe.signal}=${value.toFixed(3)}`);
        if (b !== undefined) platform.push(t - b);
      }
      onBus.clear();
      await new Promise((r) => setTimeout(r, 150 + Math.random() * 200));
    }
    lat.sort((a, b) => a - b);
    platform.sort((a, b) => a - b);
    rows.push({
      protocol: probe.protocol,
      n: lat.length,
      lost,
      p50: quantile(lat, 0.5),
      p99: quantile(lat, 0.99),
      max: lat[lat.length - 1] ?? Number.NaN,
      busToBrowserP50: quantile(platform, 0.5),
      busToBrowserP99: quantile(platform, 0.99),
    });
  }
} finally {
  await browser.close();
  await stack.stop();
}

const all = rows;
console.log(`live latency: emulator value change → dashboard (Chromium), ${CHANGES} changes per protocol`);
console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${process.version}`);
console.log('protocol      | arrived | lost | p50 ms | p99 ms | max ms | bus→browser p50 | p99 ms');
for (const r of rows) {
  console.log(
    `${r.protocol.padEnd(13)} | ${String(r.n).padStart(7)} | ${String(r.lost).padStart(4)} | ${r.p50.toFixed(0).padStart(6)} | ${r.p99.toFixed(0).padStart(6)} | ${r.max.toFixed(0).padStart(6)} | ${r.busToBrowserP50.toFixed(0).padStart(15)} | ${r.busToBrowserP99.toFixed(0).padStart(6)}`,
  );
}
console.log(
  `dashboard JavaScript: ${(jsRaw / 1024).toFixed(1)} kB raw, ${(jsGzip / 1024).toFixed(1)} kB gzip (aim < 150 kB gzip)`,
);
console.log(
  JSON.stringify({
    bench: 'live',
    changesPerProtocol: CHANGES,
    protocols: all,
    jsRawBytes: jsRaw,
    jsGzipBytes: jsGzip,
  }),
);
