import { routeOpcuaLogs } from '@gemba/connect/opcua-logs';
import { createLogger, GembaError, type Logger, loadModelFile } from '@gemba/core';
import type { Command } from 'commander';

// The platform's parts (node-opcua, DuckDB, fastify ...) load when a command runs, not when
// the CLI starts: `gemba --help` or `gemba model check` need none of them.

type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new GembaError(
      'GEMBA_INVALID_ARGUMENT',
      `--port must be a whole number from 0 to 65535, got '${value}'`,
    );
  }
  return n;
}

function parsePositive(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!(n > 0) || !Number.isFinite(n)) {
      throw new GembaError('GEMBA_INVALID_ARGUMENT', `${name} must be a positive number, got '${value}'`);
    }
    return n;
  };
}

/** Runs until SIGINT/SIGTERM, then stops cleanly. */
function untilSignal(log: Logger, stop: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const onSignal = (sig: string): void => {
      log.info({ signal: sig }, 'stopping');
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      void stop().then(resolve, (err: unknown) => {
        log.error({ err }, 'stop failed');
        resolve();
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/** `gemba start` (the platform on a plant model) and `gemba demo` (plus the plant emulator). */
export function registerStartCommands(program: Command): void {
  program
    .command('start')
    .description(
      'run Gemba all-in-one on a plant model: drivers, engine, embedded historian, API and dashboard',
    )
    .requiredOption('-m, --model <file>', 'plant model YAML')
    .option('-d, --data <dir>', 'data folder (historian, store-and-forward buffer)', '.data')
    .option('--historian <url>', 'postgres://… to keep history in PostgreSQL instead of the data folder')
    .option('-p, --port <port>', 'HTTP port of the API and dashboard', parsePort, 8080)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--token <token>', 'admin bearer token (default: a new random one, printed)')
    .option('--log-level <level>', 'trace, debug, info, warn, error or silent', 'info')
    .action(
      async (opts: {
        model: string;
        data: string;
        historian?: string;
        port: number;
        host: string;
        token?: string;
        logLevel: LogLevel;
      }) => {
        const logger = createLogger({ level: opts.logLevel });
        routeOpcuaLogs(logger);
        const model = await loadModelFile(opts.model);
        const { startPlatform } = await import('../platform.ts');
        const platform = await startPlatform({
          model,
          logger,
          dataDir: opts.data,
          ...(opts.historian === undefined ? {} : { historian: opts.historian }),
          port: opts.port,
          host: opts.host,
          ...(opts.token === undefined
            ? {}
            : { tokens: [{ token: opts.token, role: 'admin', name: 'local-admin' }] }),
        });
        const admin = platform.tokens.find((t) => t.role === 'admin');
        console.log(`Gemba is running: ${platform.url}/?token=${admin?.token ?? ''}`);
        console.log(`  admin token: ${admin?.token ?? ''}   (Ctrl-C stops)`);
        await untilSignal(logger, platform.stop);
      },
    );

  program
    .command('demo')
    .description(
      'run the demo factory: the plant emulator on real protocols plus the whole platform, nothing else needed',
    )
    .option(
      '-s, --speed <factor>',
      'plant time per wall time (60 = one hour a minute)',
      parsePositive('--speed'),
      1,
    )
    .option('--seed <n>', 'emulator seed (same seed, same plant behaviour)', parsePositive('--seed'))
    .option('-p, --port <port>', 'HTTP port of the API and dashboard', parsePort, 8080)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--mqtt <url>', 'MQTT broker for the Sparkplug and JSON stations (default: an embedded broker)')
    .option('-d, --data <dir>', 'keep data in this folder (default: a temporary folder)')
    .option('--log-level <level>', 'trace, debug, info, warn, error or silent', 'warn')
    .option(
      '--plants <n>',
      'scaled out: this many plants, on NATS JetStream and PostgreSQL',
      parsePositive('--plants'),
    )
    .option(
      '--lines <n>',
      'scaled out: this many lines per plant, one emulator each',
      parsePositive('--lines'),
    )
    .option('--engines <n>', 'scaled out: engine processes (default 2)', parsePositive('--engines'))
    .option('--bus <url>', 'scaled out: NATS URL (default the local 4222, else a nats-server of its own)')
    .option('--historian <url>', 'scaled out: PostgreSQL URL', 'postgres://postgres@127.0.0.1:5432/postgres')
    .action(
      async (opts: {
        speed: number;
        seed?: number;
        port: number;
        host: string;
        mqtt?: string;
        data?: string;
        logLevel: LogLevel;
        plants?: number;
        lines?: number;
        engines?: number;
        bus?: string;
        historian: string;
      }) => {
        const logger = createLogger({ level: opts.logLevel });
        routeOpcuaLogs(logger);
        if (opts.plants !== undefined || opts.lines !== undefined) {
          // Scaled out (issue 9): packages/cli/src/multi-demo.ts.
          const { startMultiDemo } = await import('../multi-demo.ts');
          const multi = await startMultiDemo({
            plants: opts.plants ?? 1,
            lines: opts.lines ?? 1,
            logger,
            port: opts.port,
            host: opts.host,
            pgUrl: opts.historian,
            childLogLevel: opts.logLevel === 'silent' ? 'error' : opts.logLevel,
            ...(opts.engines === undefined ? {} : { engines: opts.engines }),
            ...(opts.bus === undefined ? {} : { natsUrl: opts.bus }),
            ...(opts.seed === undefined ? {} : { seed: opts.seed }),
          });
          console.log(
            `Gemba demo, scaled out: ${multi.lines.length} emulated lines (${multi.lines.join(', ')})`,
          );
          console.log(`  dashboard    ${multi.url}/?token=${multi.token}`);
          console.log(`  admin token  ${multi.token}`);
          console.log(`  NATS         ${multi.natsUrl}   PostgreSQL schema ${multi.schema}`);
          console.log(`  processes    ${multi.pids().join(' ')}   (Ctrl-C stops)`);
          await untilSignal(logger, multi.stop);
          return;
        }
        const { startDemo } = await import('../demo.ts');
        const demo = await startDemo({
          logger,
          speed: opts.speed,
          port: opts.port,
          host: opts.host,
          ...(opts.seed === undefined ? {} : { seed: opts.seed }),
          ...(opts.mqtt === undefined ? {} : { mqttUrl: opts.mqtt }),
          ...(opts.data === undefined ? {} : { dataDir: opts.data }),
        });
        const ep = demo.plant.endpoints;
        console.log('Gemba demo: the demo line acme/plant1/assembly/line1 runs in the plant emulator.');
        console.log(`  dashboard    ${demo.url}/?token=${demo.tokens.admin.token}`);
        console.log(`  admin token  ${demo.tokens.admin.token}`);
        console.log(`  viewer token ${demo.tokens.viewer.token}`);
        console.log(
          `  plant        OPC UA ${ep.opcua ?? '-'} · Modbus TCP port ${ep.modbus?.port ?? '-'} · MQTT ${demo.mqttUrl}`,
        );
        console.log(`  speed        ×${opts.speed}   (Ctrl-C stops)`);
        await untilSignal(logger, demo.stop);
      },
    );
}
