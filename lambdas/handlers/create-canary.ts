// Task CreateCanary: take the target's lock, put any canary traffic back on stable, create `<name>-canary` with the new image, adopt the route at 0%.
import { lockStaleAfter } from '../core/rollout';
import type { RolloutState, RolloutStatus } from '../core/rollout';
import type { HandlerDeps } from './deps';
import { lambdaHandler } from './lambda';
import { recordEvent } from './events';
import { takeLock } from './ownership';
import { statusAnnotation } from './status-annotation';

export function createCreateCanary(deps: HandlerDeps) {
  return async ({ rollout, status }: RolloutState): Promise<RolloutStatus> => {
    const { target } = rollout;
    // The first write: Initialize only read the lock, so two pushes racing past it meet here.
    const lock = await takeLock(deps, target, rollout.execution, rollout.image, lockStaleAfter(rollout));
    if (lock.kind === 'duplicate') {
      return {
        ...status,
        phase: 'Ignored',
        reason: `execution ${lock.holder.execution} is already rolling out ${rollout.image} (ECR sends one event per tag)`,
        updatedAt: deps.now().toISOString(),
      };
    }
    const router = deps.router(rollout.router);
    // A superseded or abandoned rollout may have left canary traffic: stable takes it all back
    // before the canary's image changes under it.
    const before = await router.getWeights(target);
    if (before.canary > 0) {
      await router.setWeights(target, { primary: 100, canary: 0 });
      await recordEvent(deps, rollout, 'Progressing', {
        type: 'Normal',
        reason: 'TrafficRestored',
        message: `moved ${before.canary}% canary traffic back to stable before rolling out ${rollout.image}`,
      });
    }
    await deps.workloads.ensureCanary({ target, container: rollout.container, image: rollout.image });
    await router.reconcile(target);
    const next: RolloutStatus = {
      ...status,
      canaryReady: false,
      reason: `created Deployment ${target.canaryDeployment} with ${rollout.image}; route ${target.route} adopted at 0%`,
      updatedAt: deps.now().toISOString(),
    };
    await recordEvent(deps, rollout, 'Progressing', { type: 'Normal', reason: 'CanaryStarted', message: status.reason ?? next.reason! });
    await deps.workloads.annotateStatus(target.namespace, target.deployment, statusAnnotation(rollout, next));
    return next;
  };
}

export const handler = lambdaHandler(createCreateCanary);
