// Task Promote: give the stable Deployment the new image; traffic stays split until it has rolled out.
import type { RolloutState, RolloutStatus } from '../core/rollout';
import type { HandlerDeps } from './deps';
import { lambdaHandler } from './lambda';
import { recordEvent } from './events';
import { assertOwner } from './ownership';
import { statusAnnotation } from './status-annotation';

export function createPromote(deps: HandlerDeps) {
  return async ({ rollout, status }: RolloutState): Promise<RolloutStatus> => {
    await assertOwner(deps, rollout);
    const { target } = rollout;
    await deps.workloads.setImage(target.namespace, target.deployment, rollout.container, rollout.image);
    const now = deps.now().toISOString();
    const next: RolloutStatus = {
      ...status,
      phase: 'Promoting',
      stableReady: false,
      promotionStartedAt: status.promotionStartedAt ?? now,
      reason: `promoting ${rollout.image} to Deployment ${target.deployment}`,
      updatedAt: now,
    };
    await recordEvent(deps, rollout, next.phase, { type: 'Normal', reason: 'Promoting', message: next.reason! });
    await deps.workloads.annotateStatus(target.namespace, target.deployment, statusAnnotation(rollout, next));
    return next;
  };
}

export const handler = lambdaHandler(createPromote);
