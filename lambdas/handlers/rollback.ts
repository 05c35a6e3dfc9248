// Task Rollback: all traffic back to stable, the stable image restored if a promotion had begun, the canary to zero, the reason recorded.
import { TargetNotFoundError } from '../core/errors';
import { supersededBy } from '../core/lock';
import { boundStatus, promotionBegun, reasonFromError } from '../core/rollout';
import type { RolloutPlan, RolloutStatus } from '../core/rollout';
import type { HandlerDeps } from './deps';
import { lambdaHandler } from './lambda';
import { recordEvent } from './events';
import { releaseLock } from './ownership';
import { statusAnnotation } from './status-annotation';
import { callPostRolloutHooks } from './webhooks';

export interface RollbackInput {
  readonly rollout?: RolloutPlan;
  readonly status?: RolloutStatus;
  /** Set by a Catch: the error that sent the execution here. */
  readonly error?: { readonly Error?: string; readonly Cause?: string };
}

export function createRollback(deps: HandlerDeps) {
  return async ({ rollout, status, error }: RollbackInput): Promise<RolloutStatus> => {
    const now = deps.now().toISOString();
    const reason =
      (status?.decision === 'rollback' && !error ? status.reason : reasonFromError(error)) ?? 'rollback requested';
    const base: RolloutStatus = status ?? { phase: 'Initialized', stepIndex: -1, weight: 0, weights: [], failedChecks: 0, updatedAt: now };
    const next = boundStatus({ ...base, phase: 'RolledBack', weight: 0, decision: 'rollback', reason, updatedAt: now });
    // Initialize failed before it made a plan: it had written nothing, so there is nothing to undo.
    if (!rollout) return next;

    const { target } = rollout;
    // A newer push owns the target now: its rollout already put traffic back on stable and
    // reuses the canary, so this one stops without touching either.
    const holder = supersededBy(await deps.lock.read(target), rollout.execution);
    if (holder) {
      return boundStatus({
        ...next,
        phase: 'Superseded',
        reason: `superseded by execution ${holder.execution} rolling out ${holder.image}${error?.Error === 'SupersededError' ? '' : `; this rollout had stopped on: ${reason}`}`,
      });
    }
    if (promotionBegun(base)) {
      await deps.workloads.setImage(target.namespace, target.deployment, rollout.container, rollout.previousImage);
    }
    try {
      await deps.router(rollout.router).finalize(target);
    } catch (routeError) {
      // A route that does not exist carries no canary traffic: nothing to restore there.
      if (!(routeError instanceof TargetNotFoundError)) throw routeError;
    }
    await deps.workloads.scale(target.namespace, target.canaryDeployment, 0);
    await recordEvent(deps, rollout, next.phase, { type: 'Warning', reason: 'RolledBack', message: reason });
    await releaseLock(deps, rollout);
    await callPostRolloutHooks(deps, rollout, 'Failed');
    await deps.workloads.annotateStatus(target.namespace, target.deployment, statusAnnotation(rollout, next));
    return next;
  };
}

export const handler = lambdaHandler(createRollback);
