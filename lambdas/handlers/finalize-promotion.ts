// Task FinalizePromotion: all traffic to the promoted stable Deployment, then the canary scaled to zero.
import type { RolloutState, RolloutStatus } from '../core/rollout';
import type { HandlerDeps } from './deps';
import { lambdaHandler } from './lambda';
import { recordEvent } from './events';
import { assertOwner, releaseLock } from './ownership';
import { statusAnnotation } from './status-annotation';
import { callPostRolloutHooks } from './webhooks';

export function createFinalizePromotion(deps: HandlerDeps) {
  return async ({ rollout, status }: RolloutState): Promise<RolloutStatus> => {
    const { target } = rollout;
    await assertOwner(deps, rollout);
    await deps.router(rollout.router).finalize(target);
    await deps.workloads.scale(target.namespace, target.canaryDeployment, 0);
    const next: RolloutStatus = {
      ...status,
      phase: 'Promoted',
      weight: 0,
      reason: `promoted ${rollout.image} after ${status.weights.length} steps (${status.weights.join(', ')}%)`,
      updatedAt: deps.now().toISOString(),
    };
    await recordEvent(deps, rollout, next.phase, { type: 'Normal', reason: 'Promoted', message: next.reason! });
    await releaseLock(deps, rollout);
    await callPostRolloutHooks(deps, rollout, 'Succeeded');
    await deps.workloads.annotateStatus(target.namespace, target.deployment, statusAnnotation(rollout, next));
    return next;
  };
}

export const handler = lambdaHandler(createFinalizePromotion);
