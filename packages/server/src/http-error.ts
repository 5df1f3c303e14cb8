import { type ErrorCode, GembaError, isGembaError } from '@gemba/core';

/** The HTTP status each error code maps to; codes not listed are 500. */
export const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  GEMBA_API_UNAUTHORIZED: 401,
  GEMBA_API_FORBIDDEN: 403,
  GEMBA_API_INVALID_INPUT: 400,
  GEMBA_API_NOT_FOUND: 404,
  GEMBA_API_CONFLICT: 409,
  GEMBA_API_NOT_AVAILABLE: 501,
  GEMBA_INVALID_ARGUMENT: 400,
  GEMBA_MODEL_UNKNOWN_SIGNAL: 404,
  GEMBA_MODEL_UNKNOWN_ASSET: 404,
  GEMBA_ENGINE_UNKNOWN_ALARM: 404,
  GEMBA_HISTORIAN_QUERY: 400,
  GEMBA_HISTORIAN_UNAVAILABLE: 503,
};

/** The JSON body of every API error: `{ error: { code, message, details? } }`. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> };
}

/** Converts anything thrown into an HTTP status and an {@link ErrorBody}. */
export function toErrorResponse(err: unknown): { status: number; body: ErrorBody } {
  if (isGembaError(err)) {
    const body: ErrorBody = { error: { code: err.code, message: err.message } };
    if (Object.keys(err.details).length > 0) body.error.details = err.details;
    return { status: HTTP_STATUS[err.code] ?? 500, body };
  }
  // fastify's own errors (body too large, bad JSON, unsupported media type) carry a 4xx statusCode.
  const e = err as { statusCode?: unknown; message?: unknown; code?: unknown };
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return {
      status: e.statusCode,
      body: {
        error: {
          code: 'GEMBA_API_INVALID_INPUT',
          message: `${String(e.message)}${typeof e.code === 'string' ? ` (${e.code})` : ''}`,
        },
      },
    };
  }
  return {
    status: 500,
    body: { error: { code: 'GEMBA_INTERNAL', message: err instanceof Error ? err.message : String(err) } },
  };
}

/** A 404 for an unknown thing named by the request. */
export function notFound(what: string): GembaError {
  return new GembaError('GEMBA_API_NOT_FOUND', `${what} does not exist`);
}

/** A 501 for a feature the runtime does not provide. */
export function notAvailable(feature: string): GembaError {
  return new GembaError('GEMBA_API_NOT_AVAILABLE', `this platform runs without ${feature}`);
}
