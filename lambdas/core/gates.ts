// Flagger's gates: which confirm-* webhooks stand before the rollout's next move, and what their answers mean.
import type { RolloutPlan, RolloutStatus } from './rollout';
import type { WebhookSpec, WebhookType } from './spec';
import type { WebhookOutcome } from './webhooks';

/** A hook and what it answered. */
export interface HookAnswer {
  readonly hook: WebhookSpec;
  readonly outcome: WebhookOutcome;
}

export const GATE_TYPES = ['confirm-rollout', 'confirm-traffic-increase', 'confirm-promotion'] as const;
export type GateType = (typeof GATE_TYPES)[number];

export interface GateStatus {
  readonly type: GateType | 'none';
  readonly open: boolean;
  /** Which hooks did not approve, and what they answered. */
  readonly detail?: string;
  /** How many times in a row this gate was asked and found closed. */
  readonly closedAsks?: number;
}

/**
 * A gate found closed this many times in a row rolls the rollout back. Each ask adds about ten
 * events to the execution history, which Step Functions caps at 25,000: an execution that hit
 * the cap would fail outside every Catch, and could leave traffic split.
 */
export const MAX_CLOSED_ASKS = 1000;

/** The gate after one more ask: closed asks counted, and a reason to roll back once there are too many. */
export function afterAsk(previous: GateStatus | undefined, asked: GateStatus): { gate: GateStatus; giveUp?: string } {
  if (asked.open) return { gate: asked };
  const closedAsks = (previous && !previous.open && previous.type === asked.type ? previous.closedAsks ?? 1 : 0) + 1;
  const gate = { ...asked, closedAsks };
  if (closedAsks < MAX_CLOSED_ASKS) return { gate };
  return { gate, giveUp: `${asked.type} webhooks did not approve in ${closedAsks} asks: ${asked.detail}` };
}

export function isGated(hooks: readonly WebhookSpec[]): boolean {
  return hooks.some((hook) => (GATE_TYPES as readonly WebhookType[]).includes(hook.type));
}

/**
 * The gate before the next move, as Flagger places them: confirm-rollout before any traffic
 * moves (and before a promotion with skipAnalysis), confirm-traffic-increase before each step
 * that raises the canary's weight, confirm-promotion before the promotion. Undefined when the
 * Canary has no hook of that type, or the next move needs no approval (holding a weight).
 */
export function gateBefore(
  plan: Pick<RolloutPlan, 'steps' | 'webhooks'>,
  status: Pick<RolloutStatus, 'weights' | 'decision' | 'stepIndex' | 'weight'>,
): GateType | undefined {
  const has = (type: GateType) => plan.webhooks.some((hook) => hook.type === type);
  if (status.weights.length === 0) return has('confirm-rollout') ? 'confirm-rollout' : undefined;
  if (status.decision === 'promote') return has('confirm-promotion') ? 'confirm-promotion' : undefined;
  const next = plan.steps[status.stepIndex + 1];
  if (status.decision === 'continue' && next !== undefined && next > status.weight) {
    return has('confirm-traffic-increase') ? 'confirm-traffic-increase' : undefined;
  }
  return undefined;
}

/** A gate is open when every hook of its type answered 2xx; the others are named with their answers. */
export function gateStatus(type: GateType, answers: readonly HookAnswer[]): GateStatus {
  const closed = answers.flatMap(({ hook, outcome }) => (outcome.kind === 'error' ? [`${type} webhook ${hook.name}: ${outcome.message}`] : []));
  return closed.length === 0 ? { type, open: true } : { type, open: false, detail: closed.join('; ') };
}

/** Flagger's rollback hooks: one that answers 2xx asks for a rollback; any other answer (or none) is no request. */
export function rollbackRequest(answers: readonly HookAnswer[]): string | undefined {
  const asking = answers.find((answer) => answer.outcome.kind === 'ok');
  return asking ? `rollback webhook ${asking.hook.name} asked for a rollback` : undefined;
}
