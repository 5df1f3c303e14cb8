import { GembaError } from '../errors.ts';
import { matchPath } from '../path.ts';
import type {
  BindingDef,
  ModelFile,
  OrderDef,
  ProductDef,
  ShiftDef,
  SignalDef,
  SourceDef,
} from './schema.ts';

/** The ISA-95 level of an asset. */
export type AssetKind = 'enterprise' | 'site' | 'area' | 'line' | 'station' | 'buffer' | 'equipment';

/** An asset in the hierarchy, addressed by its namespace path. */
export interface AssetInfo {
  path: string;
  id: string;
  kind: AssetKind;
  name: string;
  /** Equipment type id (stations, buffers, equipment). */
  type?: string;
  parent?: string;
  children: string[];
  /** Signal paths directly on this asset. */
  signals: string[];
  /** The line this asset belongs to (lines, stations, buffers, equipment below a line). */
  line?: string;
  /** The station this asset belongs to (the station itself and equipment below it). */
  station?: string;
}

/** A signal with its resolved definition and where it sits. */
export interface SignalInfo {
  path: string;
  /** The signal's own name, the last path segment. */
  name: string;
  /** Dense index, 0..signals.length-1, for array-backed hot paths. */
  index: number;
  asset: string;
  def: SignalDef;
  line?: string;
  station?: string;
  /** The binding that feeds it, if any. */
  source?: string;
}

/** A station with its place in the line. */
export interface StationInfo {
  path: string;
  id: string;
  name: string;
  type: string;
  /** 0-based position in flow order. */
  order: number;
}

/** A buffer between two stations of one line. */
export interface BufferInfo {
  path: string;
  id: string;
  from: string;
  to: string;
  capacity: number;
}

/** A line with its topology. */
export interface LineInfo {
  path: string;
  id: string;
  name: string;
  stations: StationInfo[];
  buffers: BufferInfo[];
}

/** A binding from a protocol address to a signal path, with its source. */
export type ResolvedBinding = BindingDef & { signalPath: string; sourceId: string };

/**
 * The parsed, validated plant model with lookups. Built by the loader; immutable.
 */
export class Model {
  readonly file: ModelFile;
  readonly fileName: string;
  readonly enterprise: string;
  readonly timezone: string;
  readonly signals: readonly SignalInfo[];
  readonly assets: readonly AssetInfo[];
  readonly lines: readonly LineInfo[];
  readonly sources: readonly SourceDef[];
  readonly bindings: readonly ResolvedBinding[];
  readonly products: readonly ProductDef[];
  readonly shifts: readonly ShiftDef[];
  readonly orders: readonly OrderDef[];
  readonly #signalByPath: ReadonlyMap<string, SignalInfo>;
  readonly #assetByPath: ReadonlyMap<string, AssetInfo>;
  readonly #lineByPath: ReadonlyMap<string, LineInfo>;

  constructor(init: {
    file: ModelFile;
    fileName: string;
    signals: SignalInfo[];
    assets: AssetInfo[];
    lines: LineInfo[];
    bindings: ResolvedBinding[];
  }) {
    this.file = init.file;
    this.fileName = init.fileName;
    this.enterprise = init.file.enterprise.id;
    this.timezone = init.file.timezone;
    this.signals = init.signals;
    this.assets = init.assets;
    this.lines = init.lines;
    this.sources = init.file.sources;
    this.bindings = init.bindings;
    this.products = init.file.products;
    this.shifts = init.file.shifts;
    this.orders = init.file.orders;
    this.#signalByPath = new Map(init.signals.map((s) => [s.path, s]));
    this.#assetByPath = new Map(init.assets.map((a) => [a.path, a]));
    this.#lineByPath = new Map(init.lines.map((l) => [l.path, l]));
  }

  /** The signal at `path`, or undefined. */
  signal(path: string): SignalInfo | undefined {
    return this.#signalByPath.get(path);
  }

  /**
   * The signal at `path`.
   * @throws GembaError GEMBA_MODEL_UNKNOWN_SIGNAL
   */
  requireSignal(path: string): SignalInfo {
    const s = this.#signalByPath.get(path);
    if (s === undefined) {
      throw new GembaError('GEMBA_MODEL_UNKNOWN_SIGNAL', `no signal '${path}' in model ${this.fileName}`, {
        details: { path },
      });
    }
    return s;
  }

  /** The asset at `path`, or undefined. */
  asset(path: string): AssetInfo | undefined {
    return this.#assetByPath.get(path);
  }

  /**
   * The asset at `path`.
   * @throws GembaError GEMBA_MODEL_UNKNOWN_ASSET
   */
  requireAsset(path: string): AssetInfo {
    const a = this.#assetByPath.get(path);
    if (a === undefined) {
      throw new GembaError('GEMBA_MODEL_UNKNOWN_ASSET', `no asset '${path}' in model ${this.fileName}`, {
        details: { path },
      });
    }
    return a;
  }

  /** Child assets of `path`. */
  children(path: string): AssetInfo[] {
    return (this.#assetByPath.get(path)?.children ?? []).map((p) => this.#assetByPath.get(p) as AssetInfo);
  }

  /** The line at `path`, or undefined. */
  line(path: string): LineInfo | undefined {
    return this.#lineByPath.get(path);
  }

  /** Signals whose paths match an MQTT-style pattern (`+` one segment, `#` the rest). */
  matchSignals(pattern: string): SignalInfo[] {
    return this.signals.filter((s) => matchPath(pattern, s.path));
  }

  /** The signal of `role` on the asset at `assetPath` (first match), or undefined. */
  signalByRole(assetPath: string, role: SignalDef['role']): SignalInfo | undefined {
    const a = this.#assetByPath.get(assetPath);
    if (a === undefined) return undefined;
    for (const p of a.signals) {
      const s = this.#signalByPath.get(p);
      if (s?.def.role === role) return s;
    }
    return undefined;
  }

  /** Bindings of one source. */
  bindingsOf(sourceId: string): ResolvedBinding[] {
    return this.bindings.filter((b) => b.sourceId === sourceId);
  }
}
