import { describe, expect, it } from 'vitest';
import { hooksOfType, webhookCheck, webhookPayload } from '../../lambdas/core/webhooks';
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
