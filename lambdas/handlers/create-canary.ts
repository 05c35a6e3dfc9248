// Task CreateCanary: create or update `<name>-canary` and its Service with the new image, and adopt the route at 0%.
import type { RolloutState, RolloutStatus } from '../core/rollout';
import type { HandlerDeps } from './deps';
import { lambdaHandler } from './lambda';
import { statusAnnotation } from './status-annotation';

export function createCreateCanary(deps: HandlerDeps) {
  return async ({ rollout, status }: RolloutState): Promise<RolloutStatus> => {
    const { target } = rollout;
    await deps.workloads.ensureCanary({ target, container: rollout.container, image: rollout.image });
    await deps.router(rollout.router).reconcile(target);
    const next: RolloutStatus = {
      ...status,
      canaryReady: false,
      reason: `created Deployment ${target.canaryDeployment} with ${rollout.image}; route ${target.route} adopted at 0%`,
      updatedAt: deps.now().toISOString(),
    };
    await deps.events.record(target, { type: 'Normal', reason: 'CanaryStarted', message: status.reason ?? next.reason! });
    await deps.workloads.annotateStatus(target.namespace, target.deployment, statusAnnotation(rollout, next));
    return next;
  };
}

export const handler = lambdaHandler(createCreateCanary);
