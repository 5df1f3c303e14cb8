import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { GembaError, isGembaError, type Logger } from '@gemba/core';
import { parseFault } from './faults.ts';
import type { Plant } from './plant.ts';

/** A running control endpoint. */
export interface ControlServer {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024;

/**
 * The plant's small HTTP control endpoint on 127.0.0.1 (JSON in and out):
 * - `GET /status`: emulator time, seed, endpoints, source overrides and totals;
 * - `GET /value?signal=<path>`: the value served for a signal;
 * - `POST /inject` with a fault (see `PlantFault`), e.g. `{"kind":"breakdown","station":"weld","durationS":600}`;
 * - `POST /write` with `{"signal": "<path>", "value": <number>}`: a setpoint write.
 * Errors answer 400/404 with `{ "code", "message" }`.
 */
export async function startControlServer(plant: Plant, port: number, logger: Logger): Promise<ControlServer> {
  const server = createServer((req, res) => {
    handle(plant, req, res).catch((err: unknown) => {
      const status = isGembaError(err) ? 400 : 500;
      if (status === 500) logger.error({ err, url: req.url }, 'control request failed');
      send(res, status, {
        code: isGembaError(err) ? err.code : 'GEMBA_INTERNAL',
        message: err instanceof Error ? err.message : String(err),
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: '127.0.0.1' }, () => resolve());
  });
  const addr = server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : port}`;
  logger.info({ url }, 'plant control endpoint listening');
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function handle(plant: Plant, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  if (req.method === 'GET' && url.pathname === '/status') {
    plant.sync();
    send(res, 200, {
      nowMs: plant.physics.nowMs,
      now: new Date(plant.physics.nowMs).toISOString(),
      seed: plant.seed,
      endpoints: plant.endpoints,
      sourceOverrides: plant.sourceOverrides(),
      totals: plant.totals(),
    });
    return;
  }
  if (req.method === 'GET' && url.pathname === '/value') {
    const signal = url.searchParams.get('signal') ?? '';
    const v = plant.current(signal);
    if (v === undefined) {
      send(res, 404, { code: 'GEMBA_MODEL_UNKNOWN_SIGNAL', message: `no served signal '${signal}'` });
      return;
    }
    send(res, 200, { signal, ...v });
    return;
  }
  if (req.method === 'POST' && url.pathname === '/inject') {
    const fault = parseFault(await readJson(req));
    await plant.inject(fault);
    send(res, 200, { ok: true, fault });
    return;
  }
  if (req.method === 'POST' && url.pathname === '/write') {
    const body = (await readJson(req)) as { signal?: unknown; value?: unknown };
    const ok = typeof body.signal === 'string' && plant.write(body.signal, Number(body.value), 'control');
    if (!ok) {
      send(res, 400, {
        code: 'GEMBA_INVALID_ARGUMENT',
        message: `write refused: ${JSON.stringify(body.signal)} is not a writable setpoint or ${JSON.stringify(body.value)} is out of range`,
      });
      return;
    }
    send(res, 200, { ok: true });
    return;
  }
  send(res, 404, { code: 'GEMBA_INVALID_ARGUMENT', message: `no route ${req.method} ${url.pathname}` });
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err: unknown) {
    throw new GembaError('GEMBA_INVALID_ARGUMENT', `request body is not JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
}
