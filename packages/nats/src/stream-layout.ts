import { GembaError, SAMPLE_SUBJECT_PREFIX, validateSubject } from '@gemba/core';

/** Options of {@link StreamLayout}. */
export interface StreamLayoutOptions {
  /** Prefix of every stream name; letters, digits, `_` and `-`. Default `GEMBA`. */
  namePrefix?: string;
  /**
   * How many subject tokens after `gemba.samples` name one stream. 2 (the default) gives a
   * stream per site: `gemba.samples.<enterprise>.<site>.>`. 1 gives a stream per enterprise
   * (or per test prefix, as the bus contract suite's `gemba.samples.t<random>.<line>` needs).
   * 0 gives one stream for everything (`gemba.samples.>`, named by the prefix alone): the
   * simplest layout for one small site, where consumers may filter on `gemba.samples.>`.
   */
  siteDepth?: number;
}

/** One JetStream stream of the layout: its name and the one subject pattern it stores. */
export interface StreamRef {
  name: string;
  /** The stream's subject pattern, e.g. `gemba.samples.acme.plant1.>`. */
  subjects: string;
}

const NAME_PART = /^[A-Za-z0-9_-]+$/;
const PREFIX_TOKENS = SAMPLE_SUBJECT_PREFIX.split('.').length;

/**
 * Maps sample subjects and consumer filters to JetStream streams: one stream per site
 * (or per the first `siteDepth` tokens after `gemba.samples`). A consumer reads one stream, so
 * its filter must name the site literally; wildcards may follow.
 *
 * @example
 * new StreamLayout().forSubject('gemba.samples.acme.plant1.assembly.line1')
 * // → { name: 'GEMBA_acme_plant1', subjects: 'gemba.samples.acme.plant1.>' }
 */
export class StreamLayout {
  readonly namePrefix: string;
  readonly siteDepth: number;

  /** @throws GembaError GEMBA_INVALID_ARGUMENT for a bad prefix or depth. */
  constructor(options: StreamLayoutOptions = {}) {
    this.namePrefix = options.namePrefix ?? 'GEMBA';
    this.siteDepth = options.siteDepth ?? 2;
    if (!NAME_PART.test(this.namePrefix))
      throw new GembaError(
        'GEMBA_INVALID_ARGUMENT',
        `stream name prefix '${this.namePrefix}' is not allowed`,
      );
    if (!Number.isInteger(this.siteDepth) || this.siteDepth < 0)
      throw new GembaError(
        'GEMBA_INVALID_ARGUMENT',
        `siteDepth must be an integer ≥ 0, not ${this.siteDepth}`,
      );
  }

  /**
   * The stream that stores a publish subject.
   * @throws GembaError GEMBA_BUS_INVALID_SUBJECT when the subject is malformed, not under
   * `gemba.samples`, or has no token below the site.
   */
  forSubject(subject: string): StreamRef {
    validateSubject(subject, false);
    return this.#ref(subject, 'subject');
  }

  /**
   * The stream a consumer with this filter reads.
   * @throws GembaError GEMBA_BUS_INVALID_SUBJECT when the filter is malformed or does not name
   * one site literally (e.g. `gemba.samples.>` spans every site's stream).
   */
  forFilter(filter: string): StreamRef {
    validateSubject(filter, true);
    return this.#ref(filter, 'filter');
  }

  #ref(subject: string, what: string): StreamRef {
    const toks = subject.split('.');
    const head = toks.slice(0, PREFIX_TOKENS).join('.');
    const site = toks.slice(PREFIX_TOKENS, PREFIX_TOKENS + this.siteDepth);
    if (head !== SAMPLE_SUBJECT_PREFIX || toks.length <= PREFIX_TOKENS + this.siteDepth) {
      throw new GembaError(
        'GEMBA_BUS_INVALID_SUBJECT',
        `${what} '${subject}' must be ${SAMPLE_SUBJECT_PREFIX}.${Array.from({ length: this.siteDepth }, (_, i) => `<site token ${i + 1}>`).join('.')}.<more tokens>`,
      );
    }
    if (site.some((t) => t === '*' || t === '>')) {
      throw new GembaError(
        'GEMBA_BUS_INVALID_SUBJECT',
        `${what} '${subject}' spans several streams: the first ${this.siteDepth} token(s) after ${SAMPLE_SUBJECT_PREFIX} must be literal (one consumer reads one site)`,
      );
    }
    if (site.length === 0) return { name: this.namePrefix, subjects: `${SAMPLE_SUBJECT_PREFIX}.>` };
    return {
      name: `${this.namePrefix}_${site.join('_')}`,
      subjects: `${SAMPLE_SUBJECT_PREFIX}.${site.join('.')}.>`,
    };
  }
}
