// Worker entry: Node 20 does not apply the parent's loader hooks (tsx) inside worker threads,
// so the worker registers tsx itself and then loads the TypeScript worker body.
import { register } from 'tsx/esm/api';

register();
await import('./replication-worker.ts');
