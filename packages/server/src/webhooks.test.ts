import { describe, expect, it } from 'vitest';
import type { Alarm, AlarmTransition } from './runtime/runtime.ts';
import { WebhookNotifier, webhookSchema } from './webhooks.ts';

const alarm = (source: string, priority: Alarm['priority']): Alarm => ({
  id: `${source}:fault`,
  source,
  priority,
  message: 'x',
  active: true,
  acknowledged: false,
  raisedAt: 0,
});
const t = (type: AlarmTransition['type'], a: Alarm): AlarmTransition => ({ type, ts: 0, alarm: a });

describe('webhook filters', () => {
  it('filters by area prefix (whole segments), priority and transition', () => {
    const hook = webhookSchema.parse({
      url: 'http://127.0.0.1:1/h',
      areas: ['acme/plant1/assembly'],
      minPriority: 'high',
    });
    expect(hook.events).toEqual(['raise', 'ack', 'clear']);
    expect(WebhookNotifier.matches(hook, t('raise', alarm('acme/plant1/assembly/line1/press', 'high')))).toBe(
      true,
    );
    expect(
      WebhookNotifier.matches(hook, t('raise', alarm('acme/plant1/assembly/line1/press', 'urgent'))),
    ).toBe(true);
    expect(
      WebhookNotifier.matches(hook, t('raise', alarm('acme/plant1/assembly/line1/press', 'medium'))),
    ).toBe(false);
    expect(
      WebhookNotifier.matches(hook, t('raise', alarm('acme/plant1/assembly2/line1/press', 'high'))),
    ).toBe(false);
    expect(
      WebhookNotifier.matches(hook, t('shelve', alarm('acme/plant1/assembly/line1/press', 'high'))),
    ).toBe(false);
    const all = webhookSchema.parse({ url: 'https://example.com/h' });
    expect(WebhookNotifier.matches(all, t('clear', alarm('acme/x', 'low')))).toBe(true);
  });

  it('refuses URLs that are not http(s)', () => {
    expect(webhookSchema.safeParse({ url: 'ftp://example.com/h' }).success).toBe(false);
    expect(webhookSchema.safeParse({ url: 'not a url' }).success).toBe(false);
  });
});
