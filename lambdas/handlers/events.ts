// A rollout's events where operators look: a Kubernetes Event on the target Deployment, and Flagger's event webhooks.
import type { RolloutPlan } from '../core/rollout';
import { eventPayload, hooksOfType } from '../core/webhooks';
import type { HandlerDeps } from './deps';

export interface RolloutEvent {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

/**
 * Records the event on the Deployment and posts it to the Canary's event webhooks. An event
 * hook that fails changes nothing, as in Flagger: it is logged, and the rollout goes on.
 */
export async function recordEvent(deps: HandlerDeps, plan: RolloutPlan, phase: string, event: RolloutEvent): Promise<void> {
  await deps.events.record(plan.target, event);
  const now = deps.now();
  await Promise.all(
    hooksOfType(plan.webhooks, 'event').map(async (hook) => {
      try {
        await deps.webhooks.call(hook.url, eventPayload(plan.canary, hook, phase, event, now), hook.timeoutSeconds);
      } catch (error) {
        console.warn(`event webhook ${hook.name} failed for ${event.reason}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }),
  );
}
