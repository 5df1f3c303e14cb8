import { GembaError } from './errors.ts';

/** A segment of a namespace path: letters, digits, `_` and `-`, starting with a letter or digit. */
export const PATH_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/** Joins namespace segments with `/`. */
export function joinPath(...segments: string[]): string {
  return segments.filter((s) => s.length > 0).join('/');
}

/**
 * True when `path` matches an MQTT-style `pattern`: `+` matches one segment, a final `#`
 * matches zero or more segments (`acme/plant1/+/line1/#`).
 */
export function matchPath(pattern: string, path: string): boolean {
  const p = pattern.split('/');
  const s = path.split('/');
  for (let i = 0; i < p.length; i++) {
    const seg = p[i];
    if (seg === '#') return true;
    if (i >= s.length) return false;
    if (seg !== '+' && seg !== s[i]) return false;
  }
  return p.length === s.length;
}

/**
 * Checks a namespace pattern (segments, `+`, and `#` only last).
 * @throws GembaError GEMBA_INVALID_ARGUMENT naming the bad segment.
 */
export function validatePattern(pattern: string): void {
  const segs = pattern.split('/');
  segs.forEach((seg, i) => {
    if (seg === '#' && i === segs.length - 1) return;
    if (seg === '+' || PATH_SEGMENT.test(seg)) return;
    throw new GembaError(
      'GEMBA_INVALID_ARGUMENT',
      `bad segment '${seg}' at position ${i + 1} of pattern '${pattern}'`,
    );
  });
}
