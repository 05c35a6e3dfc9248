// Task NotifyRollbackFailed: Rollback gave up, so traffic may still be split: tell a person, by every channel there is.
import { reasonFromError } from '../core/rollout';
import type { RolloutPlan, RolloutStatus } from '../core/rollout';
import type { RouterType } from '../core/spec';
import type { HandlerDeps } from './deps';
import { recordEvent } from './events';
import { lambdaHandler } from './lambda';

/** What the person must put back to 100% stable, by router. */
const ROUTE_KIND: Record<RouterType, string> = {
  gatewayapi: 'HTTPRoute',
  nginx: 'Ingress, and its canary Ingress',
  istio: 'VirtualService',
  alb: 'Ingress forward action',
  kubernetes: 'no route: the stable Service has all traffic',
};

export interface NotifyInput {
  readonly rollout?: RolloutPlan;
  readonly status?: RolloutStatus;
  readonly error?: { readonly Error?: string; readonly Cause?: string };
  readonly rollbackError?: { readonly Error?: string; readonly Cause?: string };
}

export interface NotifyOutput {
  /** Channels that took the message. */
  readonly notified: string[];
  /** Channels that failed, with why. */
  readonly failed: string[];
}

export function createNotifyRollbackFailed(deps: HandlerDeps) {
  return async ({ rollout, status, error, rollbackError }: NotifyInput): Promise<NotifyOutput> => {
    const target = rollout ? `${rollout.target.namespace}/${rollout.target.deployment}` : 'an unknown target';
    const why = reasonFromError(rollbackError) ?? 'unknown error';
    const stoppedOn = status?.decision === 'rollback' && !error ? status.reason : reasonFromError(error);
    const message = [
      `Fledge could not roll back ${target}: traffic may still be split between stable and canary.`,
      rollout ? `Route (${ROUTE_KIND[rollout.router]}): ${rollout.target.namespace}/${rollout.target.route}; last canary weight ${status?.weight ?? 'unknown'}%; canary Deployment ${rollout.target.canaryDeployment}; image ${rollout.image}.` : '',
      `The rollback failed on: ${why}`,
      stoppedOn ? `The rollout had stopped on: ${stoppedOn}` : '',
      'Route 100% to the stable Service and scale the canary to zero by hand, then look at the execution history.',
    ]
      .filter(Boolean)
      .join('\n');
    const notified: string[] = [];
    const failed: string[] = [];
    // Every channel is tried; one failing (the API server that broke the rollback, say) must not silence the other.
    if (deps.notifier) {
      try {
        await deps.notifier.notify(`Fledge: rollback of ${target} FAILED`, message);
        notified.push('sns');
      } catch (e) {
        failed.push(`sns: ${(e as Error).message}`);
      }
    }
    if (rollout) {
      try {
        await recordEvent(deps, rollout, 'Failed', { type: 'Warning', reason: 'RollbackFailed', message });
        notified.push('kubernetes-event');
      } catch (e) {
        failed.push(`kubernetes-event: ${(e as Error).message}`);
      }
    }
    return { notified, failed };
  };
}

export const handler = lambdaHandler(createNotifyRollbackFailed);
