// Task ConfirmGate: ask the confirm-* webhooks that stand before the next move; a closed gate waits, a rollback webhook's request rolls back.
import { GateTimeoutError, RollbackRequestedError } from '../core/errors';
import { afterAsk, gateBefore, gateStatus, rollbackRequest } from '../core/gates';
import { boundStatus } from '../core/rollout';
import type { RolloutState, RolloutStatus } from '../core/rollout';
import type { HandlerDeps } from './deps';
import { lambdaHandler } from './lambda';
import { recordEvent } from './events';
import { heartbeat } from './ownership';
import { statusAnnotation } from './status-annotation';
import { callHooks } from './webhooks';

export function createConfirmGate(deps: HandlerDeps) {
  return async ({ rollout, status }: RolloutState): Promise<RolloutStatus> => {
    // Waiting at a gate may take hours: each poll keeps the lock alive, and stops if a newer push took over.
    await heartbeat(deps, rollout);
    const { target } = rollout;
    const waiting = status.gate !== undefined && !status.gate.open;
    const requested = rollbackRequest(await callHooks(deps, rollout, 'rollback', waiting ? 'Waiting' : 'Progressing'));
    if (requested) throw new RollbackRequestedError(requested);

    const type = gateBefore(rollout, status);
    const now = deps.now().toISOString();
    if (!type) return { ...status, gate: { type: 'none', open: true }, updatedAt: now };
    const { gate, giveUp } = afterAsk(status.gate, gateStatus(type, await callHooks(deps, rollout, type, 'Progressing')));
    if (giveUp) throw new GateTimeoutError(giveUp);
    const wasClosed = waiting && status.gate?.type === type;
    if (!gate.open && !wasClosed) {
      await recordEvent(deps, rollout, 'Waiting', { type: 'Warning', reason: 'WaitingForApproval', message: `halted until approved: ${gate.detail}` });
    }
    if (gate.open && wasClosed) {
      await recordEvent(deps, rollout, 'Progressing', { type: 'Normal', reason: 'Approved', message: `${type} webhooks approved` });
    }
    const next: RolloutStatus = boundStatus({
      ...status,
      phase: gate.open ? (status.phase === 'Waiting' ? 'Progressing' : status.phase) : 'Waiting',
      gate,
      reason: gate.open ? `${type} webhooks approved` : `waiting for approval: ${gate.detail}`,
      updatedAt: now,
    });
    if (!gate.open) await deps.workloads.annotateStatus(target.namespace, target.deployment, statusAnnotation(rollout, next));
    return next;
  };
}

export const handler = lambdaHandler(createConfirmGate);
