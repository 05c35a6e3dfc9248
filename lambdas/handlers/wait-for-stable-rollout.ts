// Task WaitForStableRollout: has the stable Deployment rolled out the promoted image? Asked again until it has.
import { PromotionFailedError } from '../core/errors';
import { readiness } from '../core/readiness';
import type { RolloutState, RolloutStatus } from '../core/rollout';
import type { HandlerDeps } from './deps';
import { lambdaHandler } from './lambda';
import { assertOwner } from './ownership';

export function createWaitForStableRollout(deps: HandlerDeps) {
  return async ({ rollout, status }: RolloutState): Promise<RolloutStatus> => {
    await assertOwner(deps, rollout);
    const { target } = rollout;
    const progress = await deps.workloads.getRolloutProgress(target.namespace, target.deployment, rollout.container);
    const now = deps.now();
    const since = new Date(status.promotionStartedAt ?? status.updatedAt);
    const verdict = readiness(progress, rollout.image, since, now, rollout.progressDeadlineSeconds);
    if (verdict.kind === 'failed') {
      throw new PromotionFailedError(`Deployment ${target.namespace}/${target.deployment} did not roll out ${rollout.image}: ${verdict.detail}`);
    }
    const ready = verdict.kind === 'ready';
    return {
      ...status,
      stableReady: ready,
      reason: ready
        ? `Deployment ${target.deployment} runs ${rollout.image} on every replica`
        : `waiting for Deployment ${target.deployment} to roll out: ${verdict.detail}`,
      updatedAt: now.toISOString(),
    };
  };
}

export const handler = lambdaHandler(createWaitForStableRollout);
