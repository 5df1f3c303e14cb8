import { GembaError } from '../errors.ts';

/** Prefix of every sample subject. */
export const SAMPLE_SUBJECT_PREFIX = 'gemba.samples';

const TOKEN = /^[A-Za-z0-9_-]+$/;

/**
 * The bus subject for a namespace path: `acme/plant1/assembly/line1` →
 * `gemba.samples.acme.plant1.assembly.line1`. Path segments are valid NATS tokens already.
 * @throws GembaError GEMBA_BUS_INVALID_SUBJECT for an empty or malformed path.
 */
export function subjectForPath(path: string): string {
  const segs = path.split('/');
  for (const s of segs) {
    if (!TOKEN.test(s))
      throw new GembaError(
        'GEMBA_BUS_INVALID_SUBJECT',
        `'${path}' has segment '${s}' not allowed in a subject`,
      );
  }
  return `${SAMPLE_SUBJECT_PREFIX}.${segs.join('.')}`;
}

/** The namespace path of a sample subject (the inverse of {@link subjectForPath}). */
export function pathForSubject(subject: string): string {
  if (!subject.startsWith(`${SAMPLE_SUBJECT_PREFIX}.`)) {
    throw new GembaError('GEMBA_BUS_INVALID_SUBJECT', `'${subject}' is not a sample subject`);
  }
  return subject.slice(SAMPLE_SUBJECT_PREFIX.length + 1).replaceAll('.', '/');
}

/**
 * Checks a subject or filter: dot-separated tokens, `*` for one token, `>` only last.
 * @throws GembaError GEMBA_BUS_INVALID_SUBJECT
 */
export function validateSubject(subject: string, allowWildcards: boolean): void {
  const toks = subject.split('.');
  toks.forEach((t, i) => {
    if (allowWildcards && (t === '*' || (t === '>' && i === toks.length - 1))) return;
    if (!TOKEN.test(t)) {
      throw new GembaError(
        'GEMBA_BUS_INVALID_SUBJECT',
        `bad token '${t}' at position ${i + 1} of subject '${subject}'`,
      );
    }
  });
}

/** True when `subject` matches a NATS-style `filter` (`*` one token, `>` one or more). */
export function subjectMatches(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    const t = f[i];
    if (t === '>') return s.length > i;
    if (i >= s.length) return false;
    if (t !== '*' && t !== s[i]) return false;
  }
  return f.length === s.length;
}
