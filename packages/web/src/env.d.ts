// Module declarations for what Vite bundles besides TypeScript (the type check of the
// dashboard's .ts files: `npx tsc --noEmit -p packages/web/tsconfig.json`).
declare module '*.css';
declare module '*.svelte' {
  import type { Component } from 'svelte';

  const component: Component<Record<string, unknown>>;
  export default component;
}
