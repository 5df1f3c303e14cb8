import { readFile } from 'node:fs/promises';
import { type Document, isMap, isScalar, LineCounter, type Node, parseDocument, type YAMLMap } from 'yaml';
import type { z } from 'zod';
import { GembaError } from '../errors.ts';
import { joinPath } from '../path.ts';
import { findUnit } from '../units.ts';
import {
  type AssetInfo,
  type AssetKind,
  type BufferInfo,
  type LineInfo,
  Model,
  type ResolvedBinding,
  type SignalInfo,
  type StationInfo,
} from './model.ts';
import {
  type EquipmentInput,
  type ModelFile,
  modelFileSchema,
  type SignalDef,
  type SignalOverride,
  signalDefSchema,
} from './schema.ts';

/** One problem found in a model file, with where it is. */
export interface ModelProblem {
  file: string;
  line: number;
  column: number;
  /** YAML path, e.g. `sites[0].areas[0].lines[0].buffers[1].to`. */
  yamlPath: string;
  message: string;
}

/** The outcome of checking a model file: a model when there is no problem. */
export interface ModelCheck {
  model?: Model;
  problems: ModelProblem[];
}

function formatYamlPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out === '' ? '(root)' : out;
}

/** Formats problems as `file:line:column  yaml.path  message` lines. */
export function formatProblems(problems: readonly ModelProblem[]): string {
  return problems.map((p) => `${p.file}:${p.line}:${p.column}  ${p.yamlPath}  ${p.message}`).join('\n');
}

class ProblemSink {
  readonly problems: ModelProblem[] = [];
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
    private readonly file: string,
  ) {}

  /** Adds a problem at `path`; `key` points at a map key instead of its value. */
  add(path: readonly PropertyKey[], message: string, key?: string): void {
    const pos = this.position(path, key);
    const yamlPath = formatYamlPath(key === undefined ? path : [...path, key]);
    this.problems.push({ file: this.file, line: pos.line, column: pos.col, yamlPath, message });
  }

  private position(path: readonly PropertyKey[], key?: string): { line: number; col: number } {
    // Walk down as far as the path exists; report at the deepest node found.
    let node: unknown = this.doc.contents;
    let offset = (this.doc.contents as Node | null)?.range?.[0] ?? 0;
    for (const seg of path) {
      const next = (node as { get?: (k: unknown, keep: boolean) => unknown } | null)?.get?.(seg, true);
      if (next === undefined || next === null) break;
      node = next;
      offset = (next as Node).range?.[0] ?? offset;
    }
    if (key !== undefined && isMap(node)) {
      const pair = (node as YAMLMap).items.find((p) => isScalar(p.key) && p.key.value === key);
      const k = pair?.key as Node | undefined;
      if (k?.range) offset = k.range[0];
    }
    return this.lines.linePos(offset);
  }
}

/**
 * Checks model text and builds the model. Never throws for problems in the text: every
 * problem found is returned, each with file, line, column and YAML path.
 */
export function checkModel(text: string, fileName = 'plant.yaml'): ModelCheck {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const sink = new ProblemSink(doc, lineCounter, fileName);
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const pos = lineCounter.linePos(e.pos[0]);
      sink.problems.push({
        file: fileName,
        line: pos.line,
        column: pos.col,
        yamlPath: '(syntax)',
        message: e.message.split('\n')[0] ?? e.message,
      });
    }
    return { problems: sink.problems };
  }
  // Report schema problems, prune what they point at and parse again, so that the reference
  // checks below still run on the rest of the file: every problem is reported at once.
  const data: unknown = doc.toJS();
  const reported = new Set<string>();
  for (let round = 0; round < 20; round++) {
    const parsed = modelFileSchema.safeParse(data);
    if (parsed.success) {
      const model = build(parsed.data, fileName, sink);
      return sink.problems.length > 0 ? { problems: sink.problems } : { model, problems: [] };
    }
    let progressed = false;
    for (const issue of parsed.error.issues) {
      const key = formatYamlPath(issue.path);
      if (reported.has(key)) {
        // Pruning the leaf was not enough (a required field): drop the enclosing list item.
        progressed = prune(data, issue.path, true) || progressed;
        continue;
      }
      reported.add(key);
      reportZodIssue(sink, issue);
      progressed =
        (issue.code === 'unrecognized_keys'
          ? pruneKeys(data, issue.path, issue.keys)
          : prune(data, issue.path, false)) || progressed;
    }
    if (!progressed) break;
  }
  return { problems: sink.problems };
}

function container(data: unknown, path: readonly PropertyKey[]): unknown {
  let node = data;
  for (const seg of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[seg];
  }
  return node;
}

function pruneKeys(data: unknown, path: readonly PropertyKey[], keys: readonly string[]): boolean {
  const obj = container(data, path);
  if (obj === null || typeof obj !== 'object') return false;
  for (const k of keys) delete (obj as Record<string, unknown>)[k];
  return keys.length > 0;
}

/** Removes the value at `path` (or, with `listItem`, the nearest enclosing list item). */
function prune(data: unknown, path: readonly PropertyKey[], listItem: boolean): boolean {
  let cut = path.length - 1;
  if (listItem) {
    while (cut >= 0 && typeof path[cut] !== 'number') cut--;
  }
  if (cut < 0) return false;
  const parent = container(data, path.slice(0, cut));
  const last = path[cut] as PropertyKey;
  if (Array.isArray(parent) && typeof last === 'number') {
    if (last >= parent.length) return false;
    parent.splice(last, 1);
    return true;
  }
  if (parent !== null && typeof parent === 'object' && last in parent) {
    delete (parent as Record<PropertyKey, unknown>)[last];
    return true;
  }
  return false;
}

function reportZodIssue(sink: ProblemSink, issue: z.core.$ZodIssue): void {
  if (issue.code === 'unrecognized_keys') {
    for (const k of issue.keys) sink.add(issue.path, `unknown key '${k}'`, k);
    return;
  }
  if (issue.code === 'invalid_union' && 'discriminator' in issue) {
    sink.add(issue.path, issue.message);
    return;
  }
  sink.add(issue.path, issue.message);
}

/**
 * Parses and validates model text.
 * @throws GembaError GEMBA_MODEL_INVALID with `details.problems` listing every problem.
 */
export function parseModel(text: string, fileName = 'plant.yaml'): Model {
  const { model, problems } = checkModel(text, fileName);
  if (model === undefined) {
    throw new GembaError(
      'GEMBA_MODEL_INVALID',
      `${fileName}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n${formatProblems(problems)}`,
      { details: { problems } },
    );
  }
  return model;
}

/**
 * Reads, parses and validates a model file.
 * @throws GembaError GEMBA_MODEL_FILE_NOT_FOUND, GEMBA_MODEL_INVALID
 * @example
 * const model = await loadModelFile('examples/demo-line/plant.yaml');
 */
export async function loadModelFile(file: string): Promise<Model> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err: unknown) {
    throw new GembaError(
      'GEMBA_MODEL_FILE_NOT_FOUND',
      `cannot read model file ${file}: ${(err as Error).message}`,
      {
        cause: err,
        details: { file },
      },
    );
  }
  return parseModel(text, file);
}

function build(file: ModelFile, fileName: string, sink: ProblemSink): Model {
  const assets: AssetInfo[] = [];
  const assetByPath = new Map<string, AssetInfo>();
  const signals: SignalInfo[] = [];
  const signalByPath = new Map<string, SignalInfo>();
  const lines: LineInfo[] = [];
  const stationIds = new Set<string>();
  // Assets whose type is unknown: bindings to their signals are not reported again.
  const brokenAssets = new Set<string>();
  const underBroken = (path: string): boolean => [...brokenAssets].some((a) => path.startsWith(`${a}/`));

  // Equipment types with `extends` resolved; a cycle or unknown parent is a problem.
  const resolvedTypes = new Map<string, Record<string, SignalDef>>();
  const resolveType = (typeId: string, seen: string[]): Record<string, SignalDef> | undefined => {
    const done = resolvedTypes.get(typeId);
    if (done) return done;
    const t = file.types[typeId];
    if (t === undefined) return undefined;
    if (seen.includes(typeId)) {
      sink.add(
        ['types', typeId, 'extends'],
        `type '${typeId}' extends itself through ${[...seen, typeId].join(' → ')}`,
      );
      return {};
    }
    let base: Record<string, SignalDef> = {};
    if (t.extends !== undefined) {
      const parent = resolveType(t.extends, [...seen, typeId]);
      if (parent === undefined) sink.add(['types', typeId, 'extends'], `unknown type '${t.extends}'`);
      else base = parent;
    }
    const merged = { ...base, ...t.signals };
    resolvedTypes.set(typeId, merged);
    return merged;
  };
  for (const typeId of Object.keys(file.types)) resolveType(typeId, []);

  const checkSignalDef = (def: SignalDef, where: PropertyKey[]): void => {
    if (def.unit !== undefined && findUnit(def.unit) === undefined) {
      sink.add(
        [...where, 'unit'],
        `'${def.unit}' is not a unit (known: °C/degC, %, mm/s, A, kW, kWh, bar, rpm, s, parts, ...)`,
      );
    }
    for (const r of ['normal', 'range'] as const) {
      const v = def[r];
      if (v?.min !== undefined && v.max !== undefined && v.min > v.max) {
        sink.add([...where, r], `${r}.min (${v.min}) is above ${r}.max (${v.max})`);
      }
    }
    const l = def.limits;
    if (l !== undefined) {
      const order = (['lolo', 'lo', 'hi', 'hihi'] as const).filter((k) => l[k] !== undefined);
      for (let i = 1; i < order.length; i++) {
        const a = order[i - 1] as 'lo';
        const b = order[i] as 'lo';
        if ((l[a] as number) > (l[b] as number))
          sink.add([...where, 'limits'], `limit ${a} (${l[a]}) is above ${b} (${l[b]})`);
      }
    }
  };
  for (const [typeId, t] of Object.entries(file.types)) {
    for (const [name, def] of Object.entries(t.signals))
      checkSignalDef(def, ['types', typeId, 'signals', name]);
  }

  const addAsset = (a: AssetInfo, where: PropertyKey[]): boolean => {
    if (assetByPath.has(a.path)) {
      sink.add([...where, 'id'], `duplicate path '${a.path}'`);
      return false;
    }
    assets.push(a);
    assetByPath.set(a.path, a);
    if (a.parent !== undefined) assetByPath.get(a.parent)?.children.push(a.path);
    return true;
  };

  const addSignals = (
    asset: AssetInfo,
    typeId: string | undefined,
    overrides: Record<string, SignalOverride> | undefined,
    where: PropertyKey[],
  ): void => {
    let defs: Record<string, SignalDef> = {};
    if (typeId !== undefined) {
      const t = resolveType(typeId, []);
      if (t === undefined) {
        brokenAssets.add(asset.path);
        sink.add(
          [...where, 'type'],
          `unknown type '${typeId}' (types: ${Object.keys(file.types).join(', ') || 'none'})`,
        );
      } else defs = t;
    }
    const all: Record<string, SignalDef> = { ...defs };
    for (const [name, o] of Object.entries(overrides ?? {})) {
      const base = defs[name];
      const defined = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
      const merged = signalDefSchema.safeParse(base === undefined ? defined : { ...base, ...defined });
      if (!merged.success) {
        sink.add(
          [...where, 'signals', name],
          `signal '${name}' is not on type '${typeId}' and is not a full definition`,
        );
        continue;
      }
      checkSignalDef(merged.data, [...where, 'signals', name]);
      all[name] = merged.data;
    }
    for (const [name, def] of Object.entries(all)) {
      const path = joinPath(asset.path, name);
      if (signalByPath.has(path) || assetByPath.has(path)) {
        sink.add([...where, 'signals', name], `duplicate path '${path}'`);
        continue;
      }
      const info: SignalInfo = { path, name, index: signals.length, asset: asset.path, def };
      if (asset.line !== undefined) info.line = asset.line;
      if (asset.station !== undefined) info.station = asset.station;
      signals.push(info);
      signalByPath.set(path, info);
      asset.signals.push(path);
    }
  };

  const addEquipment = (
    list: EquipmentInput[] | undefined,
    parent: AssetInfo,
    where: PropertyKey[],
  ): void => {
    (list ?? []).forEach((e, i) => {
      const w = [...where, i];
      const a: AssetInfo = {
        path: joinPath(parent.path, e.id),
        id: e.id,
        kind: 'equipment',
        name: e.name ?? e.id,
        type: e.type,
        parent: parent.path,
        children: [],
        signals: [],
      };
      if (parent.line !== undefined) a.line = parent.line;
      if (parent.station !== undefined) a.station = parent.station;
      if (!addAsset(a, w)) return;
      addSignals(a, e.type, e.signals, w);
      addEquipment(e.equipment, a, [...w, 'equipment']);
    });
  };

  const ent = file.enterprise.id;
  addAsset(
    { path: ent, id: ent, kind: 'enterprise', name: file.enterprise.name ?? ent, children: [], signals: [] },
    ['enterprise'],
  );
  const mk = (kind: AssetKind, id: string, name: string | undefined, parent: string): AssetInfo => ({
    path: joinPath(parent, id),
    id,
    kind,
    name: name ?? id,
    parent,
    children: [],
    signals: [],
  });

  file.sites.forEach((site, si) => {
    const siteW = ['sites', si];
    const s = mk('site', site.id, site.name, ent);
    if (!addAsset(s, siteW)) return;
    site.areas.forEach((area, ai) => {
      const areaW = [...siteW, 'areas', ai];
      const a = mk('area', area.id, area.name, s.path);
      if (!addAsset(a, areaW)) return;
      area.lines.forEach((line, li) => {
        const lineW = [...areaW, 'lines', li];
        const l = mk('line', line.id, line.name, a.path);
        l.line = l.path;
        if (!addAsset(l, lineW)) return;
        const info: LineInfo = { path: l.path, id: line.id, name: l.name, stations: [], buffers: [] };
        line.stations.forEach((st, k) => {
          const w = [...lineW, 'stations', k];
          const sa = mk('station', st.id, st.name, l.path);
          sa.type = st.type;
          sa.line = l.path;
          sa.station = sa.path;
          if (!addAsset(sa, w)) return;
          stationIds.add(st.id);
          const station: StationInfo = {
            path: sa.path,
            id: st.id,
            name: sa.name,
            type: st.type,
            order: info.stations.length,
          };
          info.stations.push(station);
          addSignals(sa, st.type, st.signals, w);
          addEquipment(st.equipment, sa, [...w, 'equipment']);
        });
        const localStations = new Map(info.stations.map((x) => [x.id, x]));
        line.buffers.forEach((b, k) => {
          const w = [...lineW, 'buffers', k];
          const from = localStations.get(b.from);
          const to = localStations.get(b.to);
          const known = [...localStations.keys()].join(', ');
          if (from === undefined)
            sink.add(
              [...w, 'from'],
              `buffer '${b.id}' starts at unknown station '${b.from}' (stations: ${known})`,
            );
          if (to === undefined)
            sink.add([...w, 'to'], `buffer '${b.id}' ends at unknown station '${b.to}' (stations: ${known})`);
          if (from !== undefined && to !== undefined && from.order >= to.order) {
            sink.add(w, `buffer '${b.id}' runs from '${b.from}' back to '${b.to}', against the flow order`);
          }
          const ba = mk('buffer', b.id, undefined, l.path);
          ba.line = l.path;
          if (b.type !== undefined) ba.type = b.type;
          if (!addAsset(ba, w)) return;
          if (b.type !== undefined || b.signals !== undefined) addSignals(ba, b.type, b.signals, w);
          const bi: BufferInfo = {
            path: ba.path,
            id: b.id,
            from: from?.path ?? '',
            to: to?.path ?? '',
            capacity: b.capacity,
          };
          info.buffers.push(bi);
        });
        addEquipment(line.equipment, l, [...lineW, 'equipment']);
        lines.push(info);
      });
    });
  });

  // Bindings: every one names an existing signal, and a signal is fed by one binding only.
  const bindings: ResolvedBinding[] = [];
  const boundBy = new Map<string, string>();
  const sourceIds = new Set<string>();
  file.sources.forEach((src, si) => {
    if (sourceIds.has(src.id)) sink.add(['sources', si, 'id'], `duplicate source id '${src.id}'`);
    sourceIds.add(src.id);
    src.bindings.forEach((b, bi) => {
      const w = ['sources', si, 'bindings', bi];
      const path =
        src.base !== undefined && !b.signal.startsWith(`${ent}/`) ? joinPath(src.base, b.signal) : b.signal;
      const sig = signalByPath.get(path);
      if (sig === undefined) {
        if (!underBroken(path)) sink.add([...w, 'signal'], `binding to missing signal '${path}'`);
        return;
      }
      const prev = boundBy.get(path);
      if (prev !== undefined) {
        sink.add([...w, 'signal'], `signal '${path}' is already bound by ${prev}`);
        return;
      }
      boundBy.set(path, `source '${src.id}'`);
      sig.source = src.id;
      if (b.edge?.fromUnit !== undefined) {
        const u = findUnit(b.edge.fromUnit);
        if (u === undefined) sink.add([...w, 'edge', 'fromUnit'], `'${b.edge.fromUnit}' is not a unit`);
        else if (sig.def.unit === undefined)
          sink.add([...w, 'edge', 'fromUnit'], `signal '${path}' has no unit to convert to`);
        else if (findUnit(sig.def.unit)?.dimension !== u.dimension) {
          sink.add([...w, 'edge', 'fromUnit'], `cannot convert ${b.edge.fromUnit} to ${sig.def.unit}`);
        }
      }
      if (
        src.protocol === 'modbus' &&
        'pollGroup' in b &&
        b.pollGroup !== undefined &&
        !(b.pollGroup in src.pollGroups)
      ) {
        sink.add([...w, 'pollGroup'], `unknown poll group '${b.pollGroup}'`);
      }
      bindings.push({ ...b, signalPath: path, sourceId: src.id } as ResolvedBinding);
    });
  });

  // Products, quality specs, orders and the time zone refer to things that must exist.
  const productIds = new Set<string>();
  file.products.forEach((p, pi) => {
    productIds.add(p.id);
    for (const st of Object.keys(p.idealCycleTimeS)) {
      if (!stationIds.has(st)) sink.add(['products', pi, 'idealCycleTimeS'], `unknown station '${st}'`, st);
    }
    p.quality.forEach((q, qi) => {
      if (!signalByPath.has(q.signal))
        sink.add(['products', pi, 'quality', qi, 'signal'], `unknown signal '${q.signal}'`);
      if (q.lsl !== undefined && q.usl !== undefined && q.lsl > q.usl) {
        sink.add(['products', pi, 'quality', qi], `lsl (${q.lsl}) is above usl (${q.usl})`);
      }
    });
  });
  const linePaths = new Set(lines.map((l) => l.path));
  file.orders.forEach((o, oi) => {
    if (!productIds.has(o.product)) sink.add(['orders', oi, 'product'], `unknown product '${o.product}'`);
    if (!linePaths.has(o.line)) sink.add(['orders', oi, 'line'], `unknown line '${o.line}'`);
  });
  const zones: [string, PropertyKey[]][] = [[file.timezone, ['timezone']]];
  file.sites.forEach((s, i) => {
    if (s.timezone !== undefined) zones.push([s.timezone, ['sites', i, 'timezone']]);
  });
  for (const [tz, where] of zones) {
    try {
      new Intl.DateTimeFormat('en', { timeZone: tz });
    } catch {
      sink.add(where, `'${tz}' is not an IANA time zone (e.g. Europe/Berlin)`);
    }
  }

  return new Model({ file, fileName, signals, assets, lines, bindings });
}
