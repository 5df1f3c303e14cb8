import { parentPort } from 'node:worker_threads';
import { simulateLine } from '../line/line-sim.ts';
import type { RunTask } from './worker-pool.ts';

// Worker thread body: runs one task per message and posts its result back.
parentPort?.on('message', (msg: { index: number; task: RunTask }) => {
  try {
    const result = simulateLine(msg.task.config, msg.task.options);
    parentPort?.postMessage({ index: msg.index, result });
  } catch (err: unknown) {
    parentPort?.postMessage({
      index: msg.index,
      error: { message: err instanceof Error ? err.message : String(err) },
    });
  }
});
