// Task ShiftWeight: set this step's canary weight on the route, as absolute weights, read it back, and start the bake's webhooks.
import { canaryDrift, trafficDrift } from '../core/drift';
import { CanaryDriftError, TrafficDriftError, WebhookError } from '../core/errors';
import { webhookCheck } from '../core/webhooks';
import { boundStatus } from '../core/rollout';
import type { RolloutState, RolloutStatus } from '../core/rollout';
import { appendWeight, nextStepIndex, routeWeights, weightsDiffer } from '../core/weights';
import type { HandlerDeps } from './deps';
import { lambdaHandler } from './lambda';
import { recordEvent } from './events';
import { statusAnnotation } from './status-annotation';
import { heartbeat } from './ownership';
import { callHooks } from './webhooks';

export function createShiftWeight(deps: HandlerDeps) {
  return async ({ rollout, status }: RolloutState): Promise<RolloutStatus> => {
    const held = status.decision === 'hold' ? 'hold' : status.decision === 'continue' ? 'continue' : undefined;
    const stepIndex = nextStepIndex(status.stepIndex, held);
    const weight = rollout.steps[stepIndex];
    const wanted = routeWeights(weight);
    const { target } = rollout;
    await heartbeat(deps, rollout);
    const router = deps.router(rollout.router);
    const canary = await deps.workloads.getRolloutProgress(target.namespace, target.canaryDeployment, rollout.container);
    const canaryChanged = canaryDrift(rollout.image, canary.image, `canary Deployment ${target.namespace}/${target.canaryDeployment}`);
    if (canaryChanged) throw new CanaryDriftError(canaryChanged);
    const drift = trafficDrift(status.weight, weight, await router.getWeights(target));
    if (drift) {
      await recordEvent(deps, rollout, 'Progressing', { type: 'Warning', reason: 'TrafficDrift', message: `${target.route}: ${drift}` });
    }
    if (status.weights.length === 0) {
      // Flagger runs pre-rollout hooks before any traffic reaches the canary; one that fails stops the rollout.
      const failed = (await callHooks(deps, rollout, 'pre-rollout', 'Progressing')).filter((r) => r.outcome.kind === 'error');
      if (failed.length > 0) {
        throw new WebhookError(
          failed.map((r) => `pre-rollout webhook ${r.hook.name} failed: ${r.outcome.kind === 'error' ? r.outcome.message : ''}`).join('; '),
        );
      }
    }
    await router.setWeights(target, wanted);
    const applied = await router.getWeights(target);
    if (weightsDiffer(wanted, applied)) {
      throw new TrafficDriftError(
        `route ${target.namespace}/${target.route} has canary ${applied.canary}% after setting ${wanted.canary}%`,
      );
    }
    // Rollout hooks (a load test, typically) start as the bake starts, so what they do falls in the window analysed.
    const now = deps.now().toISOString();
    const hookChecks = (await callHooks(deps, rollout, 'rollout', 'Progressing')).map(({ hook, outcome }) => ({
      ...webhookCheck(hook, outcome),
      query: hook.url,
      windowSeconds: rollout.intervalSeconds,
      weight,
      time: now,
    }));
    const next: RolloutStatus = boundStatus({
      ...status,
      phase: 'Progressing',
      hookChecks,
      stepIndex,
      weight,
      weights: appendWeight(status.weights, weight),
      reason: `canary weight ${weight}% (step ${stepIndex + 1} of ${rollout.steps.length})${drift ? `; drift: ${drift}` : ''}`,
      updatedAt: now,
    });
    await deps.workloads.annotateStatus(target.namespace, target.deployment, statusAnnotation(rollout, next));
    return next;
  };
}

export const handler = lambdaHandler(createShiftWeight);
