// Page-wide state: the model, who is logged in, the route.
import type { AssetMeta, ModelView, Role, SignalMeta } from './types.ts';

class AppState {
  model = $state<ModelView | null>(null);
  user = $state<{ name: string; role: Role } | null>(null);
  route = $state(location.hash.slice(1) || '/');
  #signals = new Map<string, SignalMeta>();
  #assets = new Map<string, AssetMeta>();

  setModel(m: ModelView): void {
    this.model = m;
    this.#signals = new Map(m.signals.map((s) => [s.path, s]));
    this.#assets = new Map(m.assets.map((a) => [a.path, a]));
  }
  // Reading `this.model` first makes callers in reactive code depend on the model.
  signal(path: string): SignalMeta | undefined {
    return this.model === null ? undefined : this.#signals.get(path);
  }
  asset(path: string): AssetMeta | undefined {
    return this.model === null ? undefined : this.#assets.get(path);
  }
  get timezone(): string {
    return this.model?.timezone ?? 'UTC';
  }
}

/** The page-wide state: model, user, route. */
export const app = new AppState();

addEventListener('hashchange', () => {
  app.route = location.hash.slice(1) || '/';
});

/** The hash link of an asset page. */
export function assetHref(path: string): string {
  return `#/asset/${encodeURIComponent(path)}`;
}
