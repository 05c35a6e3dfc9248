// Calls a rollout's webhooks of one type and reports each one's outcome; shared by the Task handlers.
import { hooksOfType, webhookPayload } from '../core/webhooks';
import type { WebhookOutcome } from '../core/webhooks';
import type { RolloutPlan } from '../core/rollout';
import type { WebhookSpec, WebhookType } from '../core/spec';
import type { HandlerDeps } from './deps';
import { recordEvent } from './events';

export interface HookResult {
  readonly hook: WebhookSpec;
  readonly outcome: WebhookOutcome;
}

export async function callHooks(deps: HandlerDeps, plan: RolloutPlan, type: WebhookType, phase: string): Promise<HookResult[]> {
  return Promise.all(
    hooksOfType(plan.webhooks, type).map(async (hook): Promise<HookResult> => {
      try {
        await deps.webhooks.call(hook.url, webhookPayload(plan.canary, hook, phase), hook.timeoutSeconds);
        return { hook, outcome: { kind: 'ok' } };
      } catch (error) {
        return { hook, outcome: { kind: 'error', message: error instanceof Error ? error.message : String(error) } };
      }
    }),
  );
}

/** Post-rollout hooks never change the outcome: a failure is recorded as a Warning Event and the run goes on. */
export async function callPostRolloutHooks(deps: HandlerDeps, plan: RolloutPlan, phase: string): Promise<void> {
  for (const { hook, outcome } of await callHooks(deps, plan, 'post-rollout', phase)) {
    if (outcome.kind === 'error') {
      await recordEvent(deps, plan, phase, {
        type: 'Warning',
        reason: 'WebhookFailed',
        message: `post-rollout webhook ${hook.name} failed: ${outcome.message}`,
      });
    }
  }
}
