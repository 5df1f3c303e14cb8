// DES speed: one simulated year of the demo line (wall time, kernel events/s), the same line in
// SimPy (Debian's python3-simpy, bench/sim_simpy.py) for the ratio of wall time per simulated
// year, and replications of a year in parallel on worker threads.
// Run: npx tsx bench/sim.ts [--runs 5] [--simpy-days 365] [--no-simpy]
import { spawnSync } from 'node:child_process';
import { availableParallelism, cpus } from 'node:os';
import { loadModelFile } from '@gemba/core';
import {
  buildLineModel,
  type DistributionSpec,
  type LineConfig,
  type LineParameters,
  runTasks,
  simulateLine,
} from '@gemba/sim';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const RUNS = arg('--runs', 5);
const SIMPY_DAYS = arg('--simpy-days', 365);
const YEAR_S = 365 * 86_400;

const lognormal = (mean: number, cv: number): DistributionSpec => {
  const s2 = Math.log(1 + cv * cv);
  return { family: 'lognormal', mu: Math.log(mean) - s2 / 2, sigma: Math.sqrt(s2) };
};

/** The benchmark's demo line: the parameters bench/sim_simpy.py uses too. */
async function demoLine(): Promise<LineConfig> {
  const model = await loadModelFile(new URL('../examples/demo-line/plant.yaml', import.meta.url).pathname);
  const ideal: Record<string, number> = { press: 20, weld: 24, oven: 22, assembly: 26, test: 20, pack: 18 };
  const stations: NonNullable<LineParameters['stations']> = {};
  for (const [id, ct] of Object.entries(ideal)) {
    stations[id] = {
      cycleTime: lognormal(ct * 1.05, 0.1),
      failures: {
        basis: 'operating-time',
        between: { family: 'exponential', mean: 4 * 3600 },
        repair: { family: 'lognormal', mu: Math.log(600), sigma: 0.5 },
      },
      microStops: { probability: 0.02, duration: { family: 'exponential', mean: 30 } },
      scrapProbability: 0.005,
    };
  }
  return buildLineModel(
    model,
    { stations, oven: { cureNoiseSdC: 1, scrapLogit: { a: -6, b: 0.05 } } },
    { startMs: Date.parse('2026-01-05T06:00:00+01:00') },
  );
}

const median = (xs: number[]): number => {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

const cfg = await demoLine();
simulateLine(cfg, { seed: 999, horizonS: 30 * 86_400 }); // JIT warm-up
const walls: number[] = [];
// CPU time of this thread too: on a shared machine the wall time includes waiting for a core.
const cpus_: number[] = [];
let events = 0;
let throughput = 0;
for (let r = 0; r < RUNS; r++) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const res = simulateLine(cfg, { seed: r + 1, horizonS: YEAR_S });
  const c = process.cpuUsage(c0);
  walls.push(performance.now() - t0);
  cpus_.push((c.user + c.system) / 1000);
  events = res.events;
  throughput = res.throughputPerHour;
}
const yearMs = median(walls);
const yearCpuMs = median(cpus_);
const eventsPerS = events / (yearMs / 1000);

const nRep = Math.max(2, availableParallelism());
const tp = performance.now();
await runTasks(
  Array.from({ length: nRep }, (_, i) => ({ config: cfg, options: { seed: 100 + i, horizonS: YEAR_S } })),
  { workers: availableParallelism() },
);
const parallelMs = performance.now() - tp;

let simpy: { days: number; wall_s: number; throughput_per_hour: number } | undefined;
if (!process.argv.includes('--no-simpy')) {
  const py = spawnSync(
    '/usr/bin/python3',
    [new URL('./sim_simpy.py', import.meta.url).pathname, String(SIMPY_DAYS), '1'],
    {
      encoding: 'utf8',
      timeout: 30 * 60_000,
    },
  );
  if (py.status === 0) simpy = JSON.parse(py.stdout.trim().split('\n').pop() as string);
  else console.error(`SimPy run failed (is python3-simpy installed?): ${py.stderr.slice(0, 300)}`);
}
const simpyYearS = simpy === undefined ? Number.NaN : (simpy.wall_s * 365) / simpy.days;
const ratio = simpyYearS / (yearMs / 1000);

const rows: [string, string][] = [
  ['machine', `${cpus()[0]?.model ?? '?'} × ${cpus().length}, Node ${process.version}`],
  [
    'gemba: wall time, 1 simulated year (median of runs)',
    `${yearMs.toFixed(0)} ms (runs: ${walls.map((w) => w.toFixed(0)).join(', ')})`,
  ],
  [
    'gemba: CPU time, 1 simulated year (median of runs)',
    `${yearCpuMs.toFixed(0)} ms (runs: ${cpus_.map((w) => w.toFixed(0)).join(', ')})`,
  ],
  ['gemba: kernel events per year', events.toLocaleString('en')],
  ['gemba: events/s', `${(eventsPerS / 1e6).toFixed(2)} M`],
  ['gemba: throughput (check)', `${throughput.toFixed(1)} parts/h`],
  [
    `gemba: ${nRep} years on ${availableParallelism()} worker threads`,
    `${parallelMs.toFixed(0)} ms (${(parallelMs / nRep).toFixed(0)} ms/year)`,
  ],
  [
    'simpy: wall time per simulated year',
    simpy === undefined
      ? 'n/a'
      : `${simpyYearS.toFixed(1)} s (ran ${simpy.days} days in ${simpy.wall_s.toFixed(1)} s)`,
  ],
  [
    'simpy: throughput (check)',
    simpy === undefined ? 'n/a' : `${simpy.throughput_per_hour.toFixed(1)} parts/h`,
  ],
  [
    'speed-up over SimPy (wall time per simulated year)',
    Number.isNaN(ratio) ? 'n/a' : `${ratio.toFixed(1)}×`,
  ],
];
const w = Math.max(...rows.map((r) => r[0].length));
for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
console.log(
  JSON.stringify({
    bench: 'sim',
    yearWallMs: yearMs,
    yearCpuMs,
    eventsPerYear: events,
    eventsPerS,
    parallelYears: nRep,
    parallelWallMs: parallelMs,
    simpyYearWallS: simpyYearS,
    speedupVsSimpy: ratio,
  }),
);
