// The rollout lock as the Task handlers use it: take it at Initialize, prove ownership at every step, release it at the end.
import { KubernetesTransientError, SupersededError } from '../core/errors';
import { decideLock, supersededBy } from '../core/lock';
import type { LockDecision } from '../core/lock';
import type { RolloutPlan } from '../core/rollout';
import type { LockRecord } from '../ports/rollout-lock';
import type { RolloutTarget } from '../ports/target';
import type { HandlerDeps } from './deps';

const ATTEMPTS = 5;

/** Compare-and-set until it sticks: the Deployment's resourceVersion moves with every status update. */
async function update(
  deps: HandlerDeps,
  target: RolloutTarget,
  change: (current: LockRecord | undefined) => { next: LockRecord | undefined; write: boolean },
): Promise<LockRecord | undefined> {
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const current = await deps.lock.read(target);
    const { next, write } = change(current);
    if (!write || (await deps.lock.replace(target, current, next))) return current;
  }
  throw new KubernetesTransientError(
    `the rollout lock on Deployment ${target.namespace}/${target.deployment} kept changing; gave up after ${ATTEMPTS} attempts`,
  );
}

/** Take the lock for this execution unless a live rollout of the same image holds it. */
export async function takeLock(
  deps: HandlerDeps,
  target: RolloutTarget,
  execution: string,
  image: string,
  staleAfter: number,
): Promise<LockDecision> {
  let decision: LockDecision = { kind: 'take' };
  await update(deps, target, (current) => {
    const now = deps.now();
    decision = decideLock(current, execution, image, now, staleAfter);
    if (decision.kind === 'duplicate') return { next: current, write: false };
    const at = now.toISOString();
    return { next: { execution, image, acquiredAt: at, heartbeatAt: at }, write: true };
  });
  return decision;
}

function superseded(plan: RolloutPlan, holder: LockRecord): SupersededError {
  return new SupersededError(`superseded: execution ${holder.execution} now rolls out ${holder.image} on ${plan.canary}`);
}

/** Throws SupersededError when a newer push took the target over. */
export async function assertOwner(deps: HandlerDeps, plan: RolloutPlan): Promise<void> {
  const holder = supersededBy(await deps.lock.read(plan.target), plan.execution);
  if (holder) throw superseded(plan, holder);
}

/** Prove ownership and show life, so a later push can tell this rollout from an abandoned one. */
export async function heartbeat(deps: HandlerDeps, plan: RolloutPlan): Promise<void> {
  let holder: LockRecord | undefined;
  await update(deps, plan.target, (current) => {
    holder = supersededBy(current, plan.execution);
    if (holder || !current) return { next: current, write: false };
    return { next: { ...current, heartbeatAt: deps.now().toISOString() }, write: true };
  });
  if (holder) throw superseded(plan, holder);
}

/** Free the target at the end of a rollout, if this execution still holds it. */
export async function releaseLock(deps: HandlerDeps, plan: RolloutPlan): Promise<void> {
  await update(deps, plan.target, (current) => ({ next: undefined, write: current?.execution === plan.execution }));
}
