import { readFile } from 'node:fs/promises';
import { checkModel, formatProblems, GembaError, type Model } from '@gemba/core';
import type { Command } from 'commander';

async function readModelText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err: unknown) {
    throw new GembaError(
      'GEMBA_MODEL_FILE_NOT_FOUND',
      `cannot read model file ${file}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

/** A one-screen summary of a model. */
export function summarize(model: Model): string {
  const count = (kind: string): number => model.assets.filter((a) => a.kind === kind).length;
  return [
    `${model.fileName}: OK`,
    `  enterprise  ${model.enterprise} (time zone ${model.timezone})`,
    `  sites       ${count('site')}`,
    `  areas       ${count('area')}`,
    `  lines       ${count('line')}`,
    `  stations    ${count('station')}`,
    `  buffers     ${count('buffer')}`,
    `  equipment   ${count('equipment')}`,
    `  signals     ${model.signals.length}`,
    `  sources     ${model.sources.length} (${model.sources.map((s) => s.protocol).join(', ')})`,
    `  bindings    ${model.bindings.length}`,
    `  products    ${model.products.length}`,
    `  shifts      ${model.shifts.length}`,
    `  orders      ${model.orders.length}`,
  ].join('\n');
}

/** The asset tree with each signal's unit and role. */
export function renderTree(model: Model, showSignals: boolean): string {
  const out: string[] = [];
  const walk = (path: string, prefix: string, last: boolean, top: boolean): void => {
    const a = model.requireAsset(path);
    const label = `${a.id} [${a.kind}${a.type ? `: ${a.type}` : ''}]${a.name !== a.id ? ` ${a.name}` : ''}`;
    out.push(top ? label : `${prefix}${last ? '└─ ' : '├─ '}${label}`);
    const childPrefix = top ? '' : `${prefix}${last ? '   ' : '│  '}`;
    const sigs = showSignals ? a.signals.map((p) => model.requireSignal(p)) : [];
    const kids = a.children;
    const total = sigs.length + kids.length;
    sigs.forEach((s, i) => {
      const isLast = i === total - 1;
      const unit = s.def.unit ? ` ${s.def.unit}` : '';
      const src = s.source ? ` ← ${s.source}` : '';
      out.push(
        `${childPrefix}${isLast ? '└─ ' : '├─ '}${s.name} (${s.def.dataType}${unit}, ${s.def.role})${src}`,
      );
    });
    kids.forEach((k, i) => {
      walk(k, childPrefix, sigs.length + i === total - 1, false);
    });
  };
  walk(model.enterprise, '', true, true);
  return out.join('\n');
}

async function load(file: string): Promise<Model> {
  const { model, problems } = checkModel(await readModelText(file), file);
  if (model === undefined) {
    throw new GembaError(
      'GEMBA_MODEL_INVALID',
      `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n${formatProblems(problems)}`,
      { details: { problems } },
    );
  }
  return model;
}

/** `gemba model check|tree`. */
export function registerModelCommands(program: Command): void {
  const model = program.command('model').description('check and explore a plant model file');
  model
    .command('check')
    .description('validate a plant model file; every problem is listed with file:line:column')
    .argument('<file>', 'plant model YAML, e.g. examples/demo-line/plant.yaml')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      const text = await readModelText(file);
      const { model: m, problems } = checkModel(text, file);
      if (opts.json) {
        console.log(JSON.stringify({ ok: m !== undefined, problems }, null, 2));
      } else if (m !== undefined) {
        console.log(summarize(m));
      } else {
        console.error(formatProblems(problems));
        console.error(`${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`);
      }
      if (m === undefined) process.exitCode = 1;
    });
  model
    .command('tree')
    .description('print the asset hierarchy (ISA-95) of a plant model file')
    .argument('<file>', 'plant model YAML')
    .option('--no-signals', 'assets only')
    .action(async (file: string, opts: { signals: boolean }) => {
      console.log(renderTree(await load(file), opts.signals));
    });
}
