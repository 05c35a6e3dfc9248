// Task ShiftWeight: set this step's canary weight on the route, as absolute weights, and read it back.
import { TrafficDriftError } from '../core/errors';
import type { RolloutState, RolloutStatus } from '../core/rollout';
import { appendWeight, nextStepIndex, routeWeights, weightsDiffer } from '../core/weights';
import type { HandlerDeps } from './deps';
import { lambdaHandler } from './lambda';
import { statusAnnotation } from './status-annotation';

export function createShiftWeight(deps: HandlerDeps) {
  return async ({ rollout, status }: RolloutState): Promise<RolloutStatus> => {
    const held = status.decision === 'hold' ? 'hold' : status.decision === 'continue' ? 'continue' : undefined;
    const stepIndex = nextStepIndex(status.stepIndex, held);
    const weight = rollout.steps[stepIndex];
    const wanted = routeWeights(weight);
    const router = deps.router(rollout.router);
    await router.setWeights(rollout.target, wanted);
    const applied = await router.getWeights(rollout.target);
    if (weightsDiffer(wanted, applied)) {
      throw new TrafficDriftError(
        `route ${rollout.target.namespace}/${rollout.target.route} has canary ${applied.canary}% after setting ${wanted.canary}%`,
      );
    }
    const next: RolloutStatus = {
      ...status,
      phase: 'Progressing',
      stepIndex,
      weight,
      weights: appendWeight(status.weights, weight),
      reason: `canary weight ${weight}% (step ${stepIndex + 1} of ${rollout.steps.length})`,
      updatedAt: deps.now().toISOString(),
    };
    await deps.workloads.annotateStatus(rollout.target.namespace, rollout.target.deployment, statusAnnotation(rollout, next));
    return next;
  };
}

export const handler = lambdaHandler(createShiftWeight);
