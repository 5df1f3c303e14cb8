import { createLogger, loadModelFile } from '@gemba/core';
import type { Command } from 'commander';

// The processes' parts (node-opcua, NATS, PostgreSQL, fastify ...) load when a command runs:
// ../scale-nodes.ts.

/** Resolves on SIGINT or SIGTERM. */
function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const on = (): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve();
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

interface CommonOptions {
  bus: string;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error';
}

/** `gemba gateway|engine|api`: the parts of the platform as separate processes (scaled out on NATS). */
export function registerScaleCommands(program: Command): void {
  program
    .command('gateway')
    .description('run the drivers and edge stage of a model, publishing to NATS JetStream')
    .argument('<model>', 'plant model file')
    .requiredOption('--bus <url>', 'NATS server URL(s), comma-separated, e.g. nats://127.0.0.1:4222')
    .option('--data-dir <dir>', 'store-and-forward buffer folder', '.data/gateway')
    .option('--sources <ids>', 'only these source ids (comma-separated)')
    .option('--log-level <level>', 'trace, debug, info, warn or error', 'info')
    .action(async (file: string, opts: CommonOptions & { dataDir: string; sources?: string }) => {
      const logger = createLogger({ level: opts.logLevel, name: 'gemba-gateway' });
      const { startGatewayNode } = await import('../scale-nodes.ts');
      const node = await startGatewayNode({
        model: await loadModelFile(file),
        busUrl: opts.bus,
        dataDir: opts.dataDir,
        logger,
        ...(opts.sources === undefined ? {} : { sources: opts.sources.split(',') }),
      });
      console.log(`gemba gateway: publishing to ${opts.bus} (Ctrl-C stops)`);
      await untilSignal();
      await node.stop();
    });

  program
    .command('engine')
    .description('run one engine of a group sharing the lines of a model (NATS JetStream + historian)')
    .argument('<model>', 'plant model file')
    .requiredOption('--bus <url>', 'NATS server URL(s), comma-separated')
    .requiredOption('--historian <url>', 'postgres://… (or a folder for an embedded historian)')
    .option('--historian-schema <name>', 'PostgreSQL schema of the historian', 'gemba')
    .option('--member <id>', 'this engine’s id in the group (default engine-<host>-<pid>)')
    .option(
      '--lease-ms <ms>',
      'lease time: a dead engine’s lines move after about this long',
      (v: string) => Number(v),
      5000,
    )
    .option('--log-level <level>', 'trace, debug, info, warn or error', 'info')
    .action(
      async (
        file: string,
        opts: CommonOptions & {
          historian: string;
          historianSchema: string;
          member?: string;
          leaseMs: number;
        },
      ) => {
        const logger = createLogger({ level: opts.logLevel, name: 'gemba-engine' });
        const { startEngineNode } = await import('../scale-nodes.ts');
        const node = await startEngineNode({
          model: await loadModelFile(file),
          busUrl: opts.bus,
          historianUrl: opts.historian,
          historianSchema: opts.historianSchema,
          leaseMs: opts.leaseMs,
          logger,
          ...(opts.member === undefined ? {} : { member: opts.member }),
        });
        console.log(`gemba engine: member of the engine group on ${opts.bus} (Ctrl-C stops)`);
        await untilSignal();
        await node.stop();
      },
    );

  program
    .command('api')
    .description('run a stateless API node: live twin from NATS KV, history from the historian')
    .argument('<model>', 'plant model file')
    .requiredOption('--bus <url>', 'NATS server URL(s), comma-separated')
    .requiredOption('--historian <url>', 'postgres://… (or a folder for an embedded historian)')
    .option('--historian-schema <name>', 'PostgreSQL schema of the historian', 'gemba')
    .option('--host <host>', 'listen address', '127.0.0.1')
    .option('--port <port>', 'listen port', (v: string) => Number(v), 8080)
    .option('--web-root <dir>', 'built dashboard folder (packages/web/dist)')
    .option('--log-level <level>', 'trace, debug, info, warn or error', 'info')
    .action(
      async (
        file: string,
        opts: CommonOptions & {
          historian: string;
          historianSchema: string;
          host: string;
          port: number;
          webRoot?: string;
        },
      ) => {
        const logger = createLogger({ level: opts.logLevel, name: 'gemba-api' });
        const token = process.env.GEMBA_API_TOKEN;
        const { startApiNode } = await import('../scale-nodes.ts');
        const node = await startApiNode({
          model: await loadModelFile(file),
          busUrl: opts.bus,
          historianUrl: opts.historian,
          historianSchema: opts.historianSchema,
          host: opts.host,
          port: opts.port,
          logger,
          ...(token === undefined ? {} : { token }),
          ...(opts.webRoot === undefined ? {} : { webRoot: opts.webRoot }),
        });
        console.log(`gemba api: ${node.url}`);
        if (token === undefined)
          console.log(`  admin token: ${node.token} (set GEMBA_API_TOKEN to choose one)`);
        await untilSignal();
        await node.stop();
      },
    );
}
