/**
 * The one error type of Gemba. Every error a user can see carries a stable `code`
 * (listed in docs/errors.md, kept in step by a test), a message that says where
 * (file:line:column, signal path, endpoint) and optional structured `details`.
 */

/** Every error code Gemba can raise, with a one-line meaning. docs/errors.md lists the same codes. */
export const ERROR_CODES = {
  GEMBA_INTERNAL: 'An unexpected internal error; a bug to report.',
  GEMBA_INVALID_ARGUMENT: 'A function or command was called with an invalid argument.',
  GEMBA_MODEL_FILE_NOT_FOUND: 'The plant model file does not exist or cannot be read.',
  GEMBA_MODEL_YAML_SYNTAX: 'The plant model file is not valid YAML.',
  GEMBA_MODEL_INVALID: 'The plant model file has one or more problems (each listed with line:column).',
  GEMBA_MODEL_UNKNOWN_SIGNAL: 'A path names a signal the plant model does not have.',
  GEMBA_MODEL_UNKNOWN_ASSET: 'A path names an asset the plant model does not have.',
  GEMBA_CONFIG_INVALID: 'A configuration file or option is invalid.',
  GEMBA_BUS_CLOSED: 'The bus, or a consumer on it, was used after it was closed.',
  GEMBA_BUS_INVALID_SUBJECT: 'A bus subject or subject filter is malformed.',
  GEMBA_BUS_UNAVAILABLE: 'The bus cannot be reached.',
  GEMBA_DEMO_START:
    'A process of the scaled-out demo (nats-server, gemba gateway, engine or api) did not come up.',
  GEMBA_BATCH_DECODE: 'Bytes could not be decoded as a sample batch.',
  GEMBA_CLOCK_BACKWARDS: 'A clock was asked to move backwards.',
  GEMBA_HISTORIAN_UNAVAILABLE: 'The historian store cannot be reached or opened.',
  GEMBA_HISTORIAN_QUERY: 'A historian query is invalid.',
  GEMBA_SERVICE_REQUIRED: 'A test needs a local service that is not running (required under CI).',
  GEMBA_CONNECT_WRITE: 'A write to a signal at its peer failed or the signal cannot be written there.',
  GEMBA_CONNECT_UNAVAILABLE: 'A peer (OPC UA server, Modbus device, MQTT broker) cannot be reached.',
  GEMBA_CONNECT_BUFFER: 'The store-and-forward buffer folder cannot be opened or written.',
  GEMBA_CONNECT_UNKNOWN_SOURCE: 'A source id, or the source of a signal, is not in the plant model.',
  GEMBA_API_UNAUTHORIZED: 'An API request has no bearer token, or the token is unknown.',
  GEMBA_API_FORBIDDEN: "The API token's role may not do this (viewer < operator < engineer < admin).",
  GEMBA_API_INVALID_INPUT: 'An API request body, query or WebSocket message does not match its schema.',
  GEMBA_API_NOT_FOUND: 'An API route, asset, alarm, job or order does not exist.',
  GEMBA_API_NOT_AVAILABLE:
    'The running platform does not provide this feature (e.g. no simulation service wired).',
  GEMBA_API_CONFLICT:
    'An API write conflicts with the current state (e.g. acknowledging a cleared alarm twice).',
  GEMBA_SIM_MODEL: 'The plant model lacks something the simulation needs (a line, a product, cycle times).',
  GEMBA_SIM_CALIBRATION: 'The historian window holds too little data to calibrate the simulation.',
  GEMBA_SIM_CANCELLED: 'A simulation job was cancelled before it finished.',
  GEMBA_ENGINE_UNKNOWN_ALARM: 'An alarm id given to acknowledge or shelve does not exist in the engine.',
  GEMBA_PLANT_ENDPOINT:
    'The plant emulator could not open an endpoint (port in use, MQTT broker unreachable).',
} as const;

/** A stable error code, e.g. `GEMBA_MODEL_UNKNOWN_SIGNAL`. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Options for {@link GembaError}. */
export interface GembaErrorOptions {
  /** Structured facts about the error, safe to log and to return from the API. */
  details?: Record<string, unknown>;
  /** The underlying error. */
  cause?: unknown;
}

/**
 * An error with a stable code. Thrown at the edges (model and config loading, API input);
 * inside the pipeline sources report problems as bad-quality samples and status events instead.
 *
 * @example
 * throw new GembaError('GEMBA_MODEL_UNKNOWN_SIGNAL', `no signal 'acme/x' (plant.yaml:12:5)`);
 */
export class GembaError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: GembaErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GembaError';
    this.code = code;
    this.details = options.details ?? {};
  }
}

/** True when `err` is a {@link GembaError}, optionally with the given code. */
export function isGembaError(err: unknown, code?: ErrorCode): err is GembaError {
  return err instanceof GembaError && (code === undefined || err.code === code);
}
