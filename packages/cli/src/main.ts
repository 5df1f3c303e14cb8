import { readFileSync } from 'node:fs';
import { routeOpcuaLogs } from '@gemba/connect/opcua-logs';
import { createLogger, isGembaError } from '@gemba/core';
import { Command, CommanderError } from 'commander';
import { registerConnectCommands } from './commands/connect.ts';
import { registerModelCommands } from './commands/model.ts';
import { registerPlantCommands } from './commands/plant.ts';
import { registerScaleCommands } from './commands/scale.ts';
import { registerSimCommands } from './commands/sim.ts';
import { registerStartCommands } from './commands/start.ts';

const VERSION = (
  JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** Builds the `gemba` command with every subcommand. */
export function buildProgram(): Command {
  const program = new Command('gemba')
    .description('Gemba: a live digital twin of the factory floor')
    .version(VERSION, '-v, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerStartCommands(program);
  registerModelCommands(program);
  registerPlantCommands(program);
  registerScaleCommands(program);
  registerConnectCommands(program);
  registerSimCommands(program);
  return program;
}

/**
 * Runs the CLI and returns the exit code. A user mistake (a bad argument, a broken model
 * file) prints one clear message, never a stack trace.
 */
export async function main(argv: string[]): Promise<number> {
  // node-opcua logs to stdout as it loads (e.g. its RSA PKCS#1 v1.5 self-check on Node 20):
  // route it to stderr at debug level so that command output stays clean.
  routeOpcuaLogs(createLogger({ level: 'warn', destination: process.stderr }));
  const program = buildProgram();
  for (const cmd of program.commands) cmd.exitOverride();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err: unknown) {
    if (err instanceof CommanderError) {
      // Commander has printed the message (or the help/version) already.
      return err.exitCode;
    }
    if (isGembaError(err)) {
      console.error(`gemba: ${err.message}`);
      return 1;
    }
    const listenProblem = describeListenError(err);
    if (listenProblem !== undefined) {
      console.error(`gemba: ${listenProblem}`);
      return 1;
    }
    console.error('gemba: internal error (please report it):', err);
    return 2;
  }
}

/**
 * A port that is taken or not allowed is the user's to fix, not a bug: one line that names the
 * address, or undefined for any other error.
 */
function describeListenError(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; syscall?: unknown; address?: unknown; port?: unknown };
  if (e.syscall !== 'listen') return undefined;
  const where = `${String(e.address ?? '')}:${String(e.port ?? '')}`;
  if (e.code === 'EADDRINUSE') {
    return `${where} is already in use: stop what listens there or choose another port (--port)`;
  }
  if (e.code === 'EACCES') return `not allowed to listen on ${where}: choose a port above 1023 (--port)`;
  return undefined;
}
