import { readFile, writeFile } from 'node:fs/promises';
import { GembaError, loadModelFile, type Model } from '@gemba/core';
import type {
  CalibrationReport,
  calibrate,
  Estimate,
  ExperimentResult,
  LineParameters,
  runReplications,
  Scenario,
  WhatIfResult,
} from '@gemba/sim';
import type { Command } from 'commander';

interface CommonOptions {
  line?: string;
  product?: string;
  params?: string;
  replications: string;
  days: string;
  warmup: string;
  seed: string;
  workers?: string;
  json?: boolean;
  svg?: string;
  start?: string;
}

const num = (v: string, what: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n))
    throw new GembaError('GEMBA_INVALID_ARGUMENT', `--${what} must be a number, got '${v}'`);
  return n;
};

const ci = (e: Estimate, d = 1): string =>
  `${e.mean.toFixed(d)} ± ${Number.isFinite(e.halfWidth) ? e.halfWidth.toFixed(d) : '–'}`;

function table(rows: string[][]): string {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  '))
    .join('\n');
}

/** A progress bar on stderr (only on a terminal). */
function progressBar(label: string): (done: number, total: number) => void {
  if (process.stderr.isTTY !== true) return () => {};
  return (done, total) => {
    const w = 30;
    const f = total > 0 ? done / total : 0;
    process.stderr.write(
      `\r${label} [${'#'.repeat(Math.round(f * w)).padEnd(w, '.')}] ${done}/${total}${done === total ? '\n' : ''}`,
    );
  };
}

async function loadParams(file: string | undefined): Promise<LineParameters> {
  if (file === undefined) return {};
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err: unknown) {
    throw new GembaError(
      'GEMBA_CONFIG_INVALID',
      `cannot read parameters ${file}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  try {
    const j = JSON.parse(text) as LineParameters | CalibrationReport;
    // A whole calibration report works too.
    return 'parameters' in j ? j.parameters : j;
  } catch (err: unknown) {
    throw new GembaError('GEMBA_CONFIG_INVALID', `${file} is not JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

function experimentOptions(o: CommonOptions, label: string) {
  const opts: Parameters<typeof runReplications>[1] = {
    replications: num(o.replications, 'replications'),
    horizonS: num(o.days, 'days') * 86_400,
    warmupS: o.warmup === 'auto' ? 'auto' : num(o.warmup, 'warmup') * 3600,
    seed: num(o.seed, 'seed'),
    onProgress: progressBar(label),
  };
  if (o.workers !== undefined) opts.workers = num(o.workers, 'workers');
  return opts;
}

function buildOpts(o: CommonOptions): { line?: string; product?: string; startMs?: number } {
  const r: { line?: string; product?: string; startMs?: number } = {};
  if (o.line !== undefined) r.line = o.line;
  if (o.product !== undefined) r.product = o.product;
  if (o.start !== undefined) r.startMs = isoTime(o.start, '--start');
  return r;
}

function experimentTable(r: ExperimentResult): string {
  const rows = [
    ['station', 'running %', 'starved %', 'blocked %', 'down %', 'micro %', 'good/h', 'active period s'],
  ];
  for (const s of r.stations) {
    rows.push([
      s.id + (s.id === r.bottleneck ? ' *' : ''),
      ci({
        ...s.stateShares.running,
        mean: s.stateShares.running.mean * 100,
        halfWidth: s.stateShares.running.halfWidth * 100,
      }),
      (s.stateShares.starved.mean * 100).toFixed(1),
      (s.stateShares.blocked.mean * 100).toFixed(1),
      (s.stateShares.down.mean * 100).toFixed(1),
      (s.stateShares['micro-stop'].mean * 100).toFixed(1),
      s.goodPerHour.mean.toFixed(1),
      s.meanActivePeriodS.mean.toFixed(0),
    ]);
  }
  const lines = [
    `${r.line}: ${r.replications} replications × ${(r.horizonS / 86_400).toFixed(1)} days, warm-up ${(r.warmupS / 3600).toFixed(1)} h, ${(r.wallMs / 1000).toFixed(1)} s`,
    `throughput  ${ci(r.throughputPerHour)} parts/h (95 % CI)`,
    `scrap rate  ${(r.scrapRate.mean * 100).toFixed(2)} %`,
    `bottleneck  ${r.bottleneck} (active-period method; votes ${Object.entries(r.bottleneckVotes)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')})`,
    '',
    table(rows),
    '',
    table([
      ['buffer', 'capacity', 'mean level'],
      ...r.buffers.map((b) => [b.id, String(b.capacity), ci(b.meanLevel, 2)]),
    ]),
  ];
  return lines.join('\n');
}

function whatIfTable(r: WhatIfResult): string {
  const rows = [['scenario', 'throughput/h', 'Δ vs baseline (paired 95 % CI)', 'scrap %', 'bottleneck']];
  rows.push([
    'baseline',
    ci(r.baseline.throughputPerHour),
    '',
    (r.baseline.scrapRate.mean * 100).toFixed(2),
    r.baseline.bottleneck,
  ]);
  for (const s of r.scenarios) {
    const d = s.throughputDiffPerHour;
    const sig = d.low > 0 || d.high < 0 ? '' : ' (n.s.)';
    rows.push([
      s.name,
      ci(s.result.throughputPerHour),
      `${d.mean >= 0 ? '+' : ''}${d.mean.toFixed(2)} [${d.low.toFixed(2)}, ${d.high.toFixed(2)}]${sig}`,
      `${(s.result.scrapRate.mean * 100).toFixed(2)}`,
      s.result.bottleneck,
    ]);
  }
  const warnings = r.scenarios.flatMap((s) => s.warnings.map((w) => `warning: ${s.name}: ${w}`));
  return `${r.baseline.line}: ${r.baseline.replications} replications × ${(r.baseline.horizonS / 86_400).toFixed(1)} days each, common random numbers, ${(r.wallMs / 1000).toFixed(1)} s\n\n${table(rows)}${warnings.length > 0 ? `\n\n${warnings.join('\n')}` : ''}`;
}

function calibrationTable(r: CalibrationReport): string {
  const rows = [
    [
      'station',
      'parts',
      'cycle time (best fit)',
      'mean s',
      'KS',
      'failures',
      'MTBF h',
      'MTTR min',
      'scrap %',
    ],
  ];
  for (const s of r.stations) {
    const c = s.cycleTime?.best;
    const f = s.failures;
    rows.push([
      s.id,
      String(s.parts),
      c === undefined ? '(ideal)' : c.family,
      c === undefined ? '' : c.mean.toFixed(2),
      c === undefined ? '' : c.ks.toFixed(3),
      f === undefined ? '0' : `${f.count} (${f.between.best.family}/${f.repair.best.family})`,
      f === undefined ? '' : (f.between.best.mean / 3600).toFixed(2),
      f === undefined ? '' : (f.repair.best.mean / 60).toFixed(1),
      (s.scrap.probability * 100).toFixed(2),
    ]);
  }
  const out = [
    `${r.line}: ${new Date(r.window.fromMs).toISOString()} – ${new Date(r.window.toMs).toISOString()}`,
    '',
    table(rows),
  ];
  if (r.oven !== undefined) {
    out.push('', 'oven zones:');
    for (const z of r.oven.zones) {
      out.push(
        `  ${z.id}: setpoint ${z.setpointC} °C, τ ${z.timeConstantS === undefined ? 'n/a' : `${z.timeConstantS.value.toFixed(0)} ± ${z.timeConstantS.se.toFixed(0)} s`}${z.notes.length > 0 ? ` (${z.notes.join('; ')})` : ''}`,
      );
    }
    const sc = r.oven.scrapCurve;
    if (sc !== undefined)
      out.push(
        `  scrap = 1/(1+exp(−(a + b·${sc.form === 'absolute' ? '|d|' : 'd²'}))), d = cure temperature − ${sc.targetC} °C: a ${sc.a.value.toFixed(3)} ± ${sc.a.se.toFixed(3)}, b ${sc.b.value.toFixed(4)} ± ${sc.b.se.toFixed(4)} (${sc.parts} parts found at ${sc.inspectAt}, learnt within |d| ≤ ${sc.maxDeviationC.toFixed(1)} °C)`,
      );
  }
  if (r.validation !== undefined) {
    out.push('', 'validation (calibrated model simulated over the same window):');
    out.push(
      table([
        ['metric', 'observed', 'simulated (95 % CI)', 'error'],
        ...r.validation.rows
          .filter((x) => x.observed !== 0 || x.simulated.mean !== 0)
          .map((x) => [
            x.metric,
            x.observed.toFixed(3),
            ci(x.simulated, 3),
            // A share's error in points: relative to a share near 0 it says nothing.
            x.metric.endsWith(' share')
              ? `${x.simulated.mean >= x.observed ? '+' : ''}${((x.simulated.mean - x.observed) * 100).toFixed(1)} pp`
              : x.metric.endsWith(' mean level') && Math.abs(x.observed) < 1
                ? `${x.simulated.mean >= x.observed ? '+' : ''}${(x.simulated.mean - x.observed).toFixed(2)} parts`
                : Number.isFinite(x.relativeError)
                  ? `${(x.relativeError * 100).toFixed(1)} %`
                  : '',
          ]),
      ]),
    );
  }
  for (const s of r.stations) for (const n of s.notes) out.push(`note: ${s.id}: ${n}`);
  for (const w of r.warnings) out.push(`warning: ${w}`);
  return out.join('\n');
}

function withCommon(cmd: Command): Command {
  return cmd
    .option('--line <path>', 'line path (default: the first line)')
    .option('--product <id>', 'product id (default: the first that fits)')
    .option('--params <file>', 'calibrated parameters (JSON from `gemba sim calibrate --out`)')
    .option('--replications <n>', 'replications', '10')
    .option('--days <d>', 'simulated days per replication', '7')
    .option('--warmup <h>', "warm-up hours, or 'auto' (MSER-5)", 'auto')
    .option('--seed <n>', 'base seed', '1')
    .option('--workers <n>', 'worker threads (0: this thread)')
    .option('--start <iso>', 'wall-clock start of simulated time (places shift breaks)')
    .option('--json', 'print JSON instead of a table')
    .option('--svg <file>', 'write an SVG report');
}

async function model(file: string): Promise<Model> {
  return await loadModelFile(file);
}

/** `gemba sim calibrate|run|whatif`. */
export function registerSimCommands(program: Command): void {
  const sim = program.command('sim').description('simulate the line: calibrate from history, run, what-if');

  withCommon(
    sim
      .command('run')
      .argument('<model>', 'plant model file')
      .description('simulate the line (replications with 95 % CIs)'),
  ).action(async (file: string, o: CommonOptions) => {
    const m = await model(file);
    // The simulation loads when a command runs, not when the CLI starts.
    const { buildLineModel, runReplications, experimentSvg } = await import('@gemba/sim');
    const cfg = buildLineModel(m, await loadParams(o.params), buildOpts(o));
    const r = await runReplications(cfg, experimentOptions(o, 'replications'));
    if (o.svg !== undefined) await writeFile(o.svg, experimentSvg(r));
    const { runs: _runs, ...summary } = r;
    console.log(o.json === true ? JSON.stringify(summary) : experimentTable(r));
  });

  withCommon(
    sim
      .command('whatif')
      .argument('<model>', 'plant model file')
      .description(
        'compare changes with the baseline, e.g. --set weld.speed=+10% --set weld-oven.capacity=20',
      )
      .requiredOption('--set <change...>', 'a change (target.param=value); each --set is one scenario')
      .option('--combine', 'apply all --set changes together as one scenario'),
  ).action(async (file: string, o: CommonOptions & { set: string[]; combine?: boolean }) => {
    const m = await model(file);
    const { buildLineModel, parseChange, runWhatIf, whatIfSvg } = await import('@gemba/sim');
    const cfg = buildLineModel(m, await loadParams(o.params), buildOpts(o));
    const changes = o.set.map(parseChange);
    const scenarios: Scenario[] =
      o.combine === true
        ? [{ name: o.set.join(' & '), changes }]
        : changes.map((c) => ({ name: c.text, changes: [c] }));
    const r = await runWhatIf(cfg, scenarios, experimentOptions(o, 'scenarios'));
    if (o.svg !== undefined) await writeFile(o.svg, whatIfSvg(r));
    if (o.json === true) {
      const strip = (x: ExperimentResult) => {
        const { runs: _r, ...s } = x;
        return s;
      };
      console.log(
        JSON.stringify({
          baseline: strip(r.baseline),
          scenarios: r.scenarios.map((s) => ({ ...s, result: strip(s.result) })),
          wallMs: r.wallMs,
        }),
      );
    } else console.log(whatIfTable(r));
  });

  sim
    .command('calibrate')
    .argument('<model>', 'plant model file')
    .description('fit the simulation to the historian over a time window and validate it')
    .requiredOption('--historian <dir|url>', 'historian folder (embedded) or postgres:// URL')
    .requiredOption('--from <iso>', 'window start')
    .requiredOption('--to <iso>', 'window end')
    .option('--line <path>', 'line path')
    .option('--product <id>', 'product id')
    .option('--out <file>', 'write the calibrated parameters (JSON) for --params')
    .option('--replications <n>', 'validation replications', '10')
    .option('--no-validate', 'skip the validation run')
    .option('--scrap-curve-from <iso>', 'fit the oven scrap curve on the history from here (default --from)')
    .option(
      '--failure-history-from <iso>',
      'learn wear failures (condition signals such as bearing vibration) from the history from here (default --from)',
    )
    .option('--json', 'print the whole report as JSON')
    .option('--svg <file>', 'write an SVG report')
    .action(
      async (
        file: string,
        o: {
          historian: string;
          from: string;
          to: string;
          line?: string;
          product?: string;
          out?: string;
          replications: string;
          validate: boolean;
          json?: boolean;
          svg?: string;
          scrapCurveFrom?: string;
          failureHistoryFrom?: string;
        },
      ) => {
        const m = await model(file);
        const fromMs = isoTime(o.from, '--from');
        const toMs = isoTime(o.to, '--to');
        if (!(toMs > fromMs))
          throw new GembaError('GEMBA_INVALID_ARGUMENT', `--from ${o.from} must be before --to ${o.to}`);
        const scrapCurveFromMs =
          o.scrapCurveFrom === undefined ? undefined : isoTime(o.scrapCurveFrom, '--scrap-curve-from');
        const failureHistoryFromMs =
          o.failureHistoryFrom === undefined
            ? undefined
            : isoTime(o.failureHistoryFrom, '--failure-history-from');
        const { openHistorian } = await import('@gemba/historian');
        const { calibrate, calibrationSvg } = await import('@gemba/sim');
        const h = await openHistorian(o.historian);
        try {
          const opts: Parameters<typeof calibrate>[3] = {
            validate: o.validate
              ? { replications: num(o.replications, 'replications'), onProgress: progressBar('validation') }
              : false,
          };
          if (o.line !== undefined) opts.line = o.line;
          if (o.product !== undefined) opts.product = o.product;
          if (scrapCurveFromMs !== undefined) opts.scrapCurveFromMs = scrapCurveFromMs;
          if (failureHistoryFromMs !== undefined) opts.failureHistoryFromMs = failureHistoryFromMs;
          const r = await calibrate(h, m, { fromMs, toMs }, opts);
          if (o.out !== undefined) await writeFile(o.out, `${JSON.stringify(r.parameters, null, 2)}\n`);
          if (o.svg !== undefined) await writeFile(o.svg, calibrationSvg(r));
          console.log(o.json === true ? JSON.stringify(r) : calibrationTable(r));
        } finally {
          await h.close();
        }
      },
    );
}

/** An ISO time given for `flag`, as epoch ms; a clear error when it is not one. */
function isoTime(text: string, flag: string): number {
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) throw new GembaError('GEMBA_INVALID_ARGUMENT', `${flag} ${text} is not a time`);
  return ms;
}
