import { existsSync } from 'node:fs';
import fastifyStatic from '@fastify/static';
import fastifyWebsocket from '@fastify/websocket';
import type { Logger } from '@gemba/core';
import Fastify, { type FastifyInstance } from 'fastify';
import { AuditLog } from './audit.ts';
import { type AuthConfig, Authenticator, bearerToken } from './auth.ts';
import { toErrorResponse } from './http-error.ts';
import { LiveHub } from './live-hub.ts';
import { createMetrics } from './metrics.ts';
import { openApiDocument, type RouteSpec, registerRoutes, route } from './route-spec.ts';
import type { ApiContext } from './routes/context.ts';
import { historyRoutes } from './routes/history-routes.ts';
import { modelRoutes } from './routes/model-routes.ts';
import { twinRoutes } from './routes/twin-routes.ts';
import { writeRoutes } from './routes/write-routes.ts';
import { OrderBook } from './runtime/order-book.ts';
import type { GembaRuntime } from './runtime/runtime.ts';
import { type WebhookInput, WebhookNotifier } from './webhooks.ts';

/** Options of {@link createServer}. */
export interface ServerOptions {
  /** The running platform the API serves. */
  runtime: GembaRuntime;
  logger: Logger;
  auth: AuthConfig;
  /** Folder of the built dashboard (packages/web/dist); not served when absent. */
  webRoot?: string;
  /** Alarm notification webhooks configured at start. */
  webhooks?: readonly WebhookInput[];
  /** Webhook retry tuning (tests shorten it). */
  webhookRetry?: { maxAttempts?: number; backoffMs?: number; timeoutMs?: number };
  /** WebSocket tuning. */
  live?: { heartbeatMs?: number; ringSize?: number; maxBufferedBytes?: number };
}

/** The WebSocket path. */
export const LIVE_PATH = '/api/live';

/**
 * Creates the Gemba API server (REST + WebSocket + `/metrics` + the dashboard's files) over a
 * running platform. Call `listen()` on the result; `close()` stops the live feed and waits for
 * webhook deliveries under way.
 *
 * @example
 * const app = await createServer({ runtime, logger, auth: { tokens: [{ token, role: 'admin', name: 'local-admin' }] } });
 * await app.listen({ host: '127.0.0.1', port: 8080 });
 */
export async function createServer(options: ServerOptions): Promise<FastifyInstance> {
  const { runtime } = options;
  const logger = options.logger.child({ component: 'server' });
  const auth = new Authenticator(options.auth);
  const hub = new LiveHub({
    twin: runtime.twin,
    clock: runtime.clock,
    logger: logger.child({ component: 'server.live' }),
    timezone: runtime.model.timezone,
    ...options.live,
  });
  const webhooks = new WebhookNotifier({
    historian: runtime.historian,
    clock: runtime.clock,
    logger: logger.child({ component: 'server.webhooks' }),
    ...(options.webhooks === undefined ? {} : { webhooks: options.webhooks }),
    ...options.webhookRetry,
  });
  if (runtime.alarms !== undefined) webhooks.attach(runtime.alarms);
  const ctx: ApiContext = {
    runtime,
    audit: new AuditLog(runtime.historian, runtime.clock),
    hub,
    orders: runtime.orders ?? new OrderBook(runtime.model),
    webhooks,
    logger,
  };
  const metrics = createMetrics(runtime, hub);

  const app = Fastify({ logger: false, bodyLimit: 4 * 1024 * 1024 });
  app.addContentTypeParser('text/csv', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  app.setErrorHandler((err, request, reply) => {
    const { status, body } = toErrorResponse(err);
    if (status >= 500) logger.error({ err, url: request.url }, 'request failed');
    void reply.status(status).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({
      error: {
        code: 'GEMBA_API_NOT_FOUND',
        message: `no route ${request.method} ${request.url.split('?')[0]}`,
      },
    });
  });
  app.addHook('onResponse', async (request, reply) => {
    metrics.requests.inc({
      method: request.method,
      route: request.routeOptions.url ?? 'unknown',
      status: String(reply.statusCode),
    });
  });

  const specs: RouteSpec[] = [
    route({
      method: 'GET',
      url: '/api/whoami',
      role: 'viewer',
      tag: 'auth',
      summary: "The token's holder and role",
      handler: ({ actor }) => ({ ...actor, timezone: runtime.model.timezone }),
    }),
    ...modelRoutes(ctx),
    ...twinRoutes(ctx),
    ...historyRoutes(ctx),
    ...writeRoutes(ctx),
  ];
  const liveDoc = {
    [LIVE_PATH]: {
      get: {
        summary:
          'WebSocket: live twin (subscribe by pattern, snapshot then deltas with sequence numbers, resume)',
        tags: ['live'],
        description: 'Upgrade to WebSocket; token as `?token=` or bearer header. Protocol in docs/api.md.',
        'x-gemba-role': 'viewer',
        responses: { '101': { description: 'Switching protocols' } },
      },
    },
  };
  let doc: unknown;
  specs.push(
    route({
      method: 'GET',
      url: '/api/openapi.json',
      role: 'viewer',
      tag: 'meta',
      summary: 'This OpenAPI document',
      handler: () => {
        doc ??= openApiDocument(specs, liveDoc);
        return doc;
      },
    }),
    route({
      method: 'GET',
      url: '/metrics',
      role: 'viewer',
      tag: 'metrics',
      summary: 'Prometheus metrics',
      handler: async ({ reply }) => {
        reply.header('content-type', metrics.registry.contentType);
        return metrics.registry.metrics();
      },
    }),
  );
  registerRoutes(app, auth, specs, logger);

  await app.register(fastifyWebsocket, { options: { maxPayload: 64 * 1024 } });
  app.get(
    LIVE_PATH,
    {
      websocket: true,
      preValidation: async (request) => {
        const q = request.query as { token?: unknown };
        const token =
          bearerToken(request.headers.authorization) ?? (typeof q.token === 'string' ? q.token : undefined);
        auth.authenticate(token);
      },
    },
    (socket) => {
      const client = hub.attach(socket);
      // A peer that vanished without closing (a laptop lid, a dropped network) answers no
      // ping: terminate it after one missed heartbeat so it stops holding updates.
      let alive = true;
      socket.on('pong', () => {
        alive = true;
      });
      const pinger = setInterval(() => {
        if (!alive) {
          socket.terminate();
          return;
        }
        alive = false;
        socket.ping();
      }, options.live?.heartbeatMs ?? 5000);
      pinger.unref();
      socket.on('message', (data: Buffer) => client.receive(data.toString('utf8')));
      socket.on('close', () => {
        clearInterval(pinger);
        client.closed();
      });
      socket.on('error', (err: Error) => {
        logger.debug({ err }, 'live socket error');
        client.closed();
      });
    },
  );

  if (options.webRoot !== undefined && existsSync(options.webRoot)) {
    await app.register(fastifyStatic, { root: options.webRoot, prefix: '/', wildcard: true });
  }

  hub.start();
  app.addHook('onClose', async () => {
    hub.stop();
    await webhooks.close();
  });
  return app;
}
