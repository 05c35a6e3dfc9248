import { describe, expect, it } from 'vitest';
import { eventPayload, hooksOfType, webhookCheck, webhookPayload } from '../../lambdas/core/webhooks';
import type { WebhookSpec } from '../../lambdas/core/spec';

const loadTest: WebhookSpec = { name: 'load-test', type: 'rollout', url: 'http://lt/', timeoutSeconds: 15, metadata: { cmd: 'hey' } };
const notify: WebhookSpec = { name: 'notify', type: 'post-rollout', url: 'http://n/', timeoutSeconds: 5, metadata: {} };

describe('webhooks', () => {
  it("builds Flagger's payload from the Canary's namespace/name, the phase and the hook's metadata", () => {
    expect(webhookPayload('prod/web', loadTest, 'Progressing')).toEqual({
      name: 'web',
      namespace: 'prod',
      phase: 'Progressing',
      metadata: { cmd: 'hey' },
    });
  });

  it('picks the hooks of one type, in order', () => {
    expect(hooksOfType([loadTest, notify, loadTest], 'rollout')).toEqual([loadTest, loadTest]);
    expect(hooksOfType([loadTest], 'pre-rollout')).toEqual([]);
  });

  it('turns a failed call into a failed check that says what the hook answered', () => {
    expect(webhookCheck(loadTest, { kind: 'error', message: 'http://lt/ answered HTTP 500' })).toEqual({
      metric: 'load-test webhook',
      value: null,
      verdict: 'fail',
      detail: 'load-test webhook failed: http://lt/ answered HTTP 500',
    });
    expect(webhookCheck(loadTest, { kind: 'ok' }).verdict).toBe('pass');
  });
});

describe('eventPayload', () => {
  const chat: WebhookSpec = { name: 'chat', type: 'event', url: 'http://hooks/chat', timeoutSeconds: 5, metadata: { channel: '#deploys', eventType: 'spoofed' } };

  it('carries the event as Flagger does, the hook\'s metadata kept where it names other keys', () => {
    // Act
    const payload = eventPayload('prod/web', chat, 'Promoted', { type: 'Normal', message: 'promoted web@sha256:abc' }, new Date('2026-11-22T12:00:00.000Z'));

    // Assess
    expect(payload).toEqual({
      name: 'web',
      namespace: 'prod',
      phase: 'Promoted',
      metadata: { channel: '#deploys', eventMessage: 'promoted web@sha256:abc', eventType: 'Normal', timestamp: '1795348800000' },
    });
  });
});
