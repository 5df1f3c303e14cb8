import { GembaError, type Logger } from '@gemba/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { type Authenticator, bearerToken } from './auth.ts';
import type { Actor, Role } from './runtime/runtime.ts';

/** What a route handler receives: the authenticated actor and the validated input. */
export interface RouteContext<B, Q, P> {
  actor: Actor;
  body: B;
  query: Q;
  params: P;
  request: FastifyRequest;
  reply: FastifyReply;
}

/**
 * One REST route, written once: its input schemas (zod) validate requests and describe the
 * route in the OpenAPI document; its role is checked before the handler runs.
 */
export interface RouteSpec<B = unknown, Q = unknown, P = unknown> {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** fastify-style URL, e.g. `/api/alarms/:id/ack`. */
  url: string;
  /** The least role that may call it. */
  role: Role;
  summary: string;
  tag: string;
  body?: z.ZodType<B>;
  query?: z.ZodType<Q>;
  params?: z.ZodType<P>;
  /** Response schema, for the OpenAPI document only. */
  response?: z.ZodType;
  /** Content type of a raw (non-JSON) request body, e.g. `text/csv`. */
  bodyContentType?: string;
  /** Content type of the response when not JSON. */
  produces?: string;
  handler(ctx: RouteContext<B, Q, P>): unknown | Promise<unknown>;
}

/** Declares a route with its types inferred from the schemas. */
export function route<B = undefined, Q = undefined, P = undefined>(spec: RouteSpec<B, Q, P>): RouteSpec {
  return spec as unknown as RouteSpec;
}

/**
 * Parses `value` with `schema`.
 * @throws GembaError GEMBA_API_INVALID_INPUT listing every issue with its path.
 */
export function parseInput<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => ({
    path: `${where}${i.path.length > 0 ? `.${i.path.join('.')}` : ''}`,
    message: i.message,
  }));
  throw new GembaError(
    'GEMBA_API_INVALID_INPUT',
    `invalid ${where}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
    { details: { issues } },
  );
}

/** Registers `specs` on `app`: authentication, role check, input validation, handler. */
export function registerRoutes(
  app: FastifyInstance,
  auth: Authenticator,
  specs: readonly RouteSpec[],
  logger: Logger,
): void {
  for (const spec of specs) {
    app.route({
      method: spec.method,
      url: spec.url,
      handler: async (request, reply) => {
        const actor = auth.authenticate(bearerToken(request.headers.authorization));
        auth.authorize(actor, spec.role, `${spec.method} ${spec.url}`);
        const params = spec.params ? parseInput(spec.params, request.params, 'params') : undefined;
        const query = spec.query ? parseInput(spec.query, request.query, 'query') : undefined;
        let body: unknown;
        if (spec.body) body = parseInput(spec.body, request.body ?? undefined, 'body');
        else if (spec.bodyContentType !== undefined) body = request.body;
        const result = await spec.handler({ actor, body, query, params, request, reply });
        if (spec.method !== 'GET') {
          logger.info({ actor: actor.name, method: spec.method, url: request.url }, 'api write');
        }
        return result;
      },
    });
  }
}

/** Flattens an object schema's properties into OpenAPI parameters. */
function parameters(schema: z.ZodType | undefined, where: 'query' | 'path'): unknown[] {
  if (schema === undefined) return [];
  const js = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as {
    properties?: Record<string, unknown>;
    required?: string[];
  };
  return Object.entries(js.properties ?? {}).map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' || (js.required ?? []).includes(name),
    schema: s,
  }));
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): unknown {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return rest;
}

/** The OpenAPI 3.1 document of `specs` (served at `/api/openapi.json`). */
export function openApiDocument(specs: readonly RouteSpec[], extra: Record<string, unknown>): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const s of specs) {
    const url = s.url.replace(/:([A-Za-z]+)/g, '{$1}');
    const op: Record<string, unknown> = {
      summary: s.summary,
      tags: [s.tag],
      description: `Needs role \`${s.role}\` or higher.`,
      'x-gemba-role': s.role,
      parameters: [...parameters(s.params, 'path'), ...parameters(s.query, 'query')],
      responses: {
        '200': {
          description: 'OK',
          content: {
            [s.produces ?? 'application/json']: s.response
              ? { schema: jsonSchema(s.response, 'output') }
              : {},
          },
        },
        '400': { $ref: '#/components/responses/Error' },
        '401': { $ref: '#/components/responses/Error' },
        '403': { $ref: '#/components/responses/Error' },
      },
    };
    if (s.body) {
      op.requestBody = {
        required: true,
        content: { 'application/json': { schema: jsonSchema(s.body, 'input') } },
      };
    } else if (s.bodyContentType !== undefined) {
      op.requestBody = { required: true, content: { [s.bodyContentType]: { schema: { type: 'string' } } } };
    }
    paths[url] ??= {};
    (paths[url] as Record<string, unknown>)[s.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Gemba API',
      version: '0.1.0',
      description:
        'REST API of Gemba, the factory digital twin. Every request needs `Authorization: Bearer <token>`. ' +
        'Errors are `{ "error": { "code": "GEMBA_...", "message": "..." } }`. Live data: WebSocket `/api/live` (see docs/api.md).',
    },
    security: [{ bearer: [] }],
    paths: { ...paths, ...extra },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      responses: {
        Error: {
          description: 'An error with its stable code (docs/errors.md)',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['error'],
                properties: {
                  error: {
                    type: 'object',
                    required: ['code', 'message'],
                    properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} },
                  },
                },
              },
            },
          },
        },
      },
    },
  };
}
