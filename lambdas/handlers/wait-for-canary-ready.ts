// Task WaitForCanaryReady: is the canary Deployment rolled out? The state machine waits and asks again until it is.
import { CanaryNotReadyError } from '../core/errors';
import { readiness } from '../core/readiness';
import { whenCanaryReady } from '../core/rollout';
import type { RolloutState, RolloutStatus } from '../core/rollout';
import type { HandlerDeps } from './deps';
import { lambdaHandler } from './lambda';
import { recordEvent } from './events';
import { assertOwner } from './ownership';

export function createWaitForCanaryReady(deps: HandlerDeps) {
  return async ({ rollout, status }: RolloutState): Promise<RolloutStatus> => {
    await assertOwner(deps, rollout);
    const { target } = rollout;
    const progress = await deps.workloads.getRolloutProgress(target.namespace, target.canaryDeployment, rollout.container);
    const now = deps.now();
    const verdict = readiness(progress, rollout.image, new Date(rollout.startedAt), now, rollout.progressDeadlineSeconds);
    if (verdict.kind === 'failed') {
      throw new CanaryNotReadyError(`canary Deployment ${target.namespace}/${target.canaryDeployment} is not ready: ${verdict.detail}`);
    }
    const ready = verdict.kind === 'ready';
    const next: RolloutStatus = {
      ...status,
      canaryReady: ready,
      reason: ready
        ? `canary Deployment ${target.canaryDeployment} is ready`
        : `waiting for canary Deployment ${target.canaryDeployment}: ${verdict.detail}`,
      updatedAt: now.toISOString(),
    };
    const skip = ready ? whenCanaryReady(rollout) : undefined;
    if (!skip) return next;
    await recordEvent(deps, rollout, 'Progressing', { type: 'Normal', reason: 'AnalysisSkipped', message: skip.reason! });
    return { ...next, ...skip };
  };
}

export const handler = lambdaHandler(createWaitForCanaryReady);
