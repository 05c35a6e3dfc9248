// One rollout per target: whether a push proceeds, is a duplicate, or supersedes the running rollout; and whether a lock is stale.
import type { LockRecord } from '../ports/rollout-lock';

export type LockDecision =
  | { readonly kind: 'take'; readonly supersedes?: LockRecord }
  | { readonly kind: 'duplicate'; readonly holder: LockRecord };

/**
 * A lock whose holder has not shown life for this long is abandoned (its execution was
 * stopped or timed out): three intervals plus the progress deadline, and never under 10 minutes.
 */
export function staleAfterSeconds(intervalSeconds: number, progressDeadlineSeconds: number): number {
  return Math.max(600, 3 * intervalSeconds + progressDeadlineSeconds);
}

export function isStale(lock: LockRecord, now: Date, staleAfter: number): boolean {
  return now.getTime() - new Date(lock.heartbeatAt).getTime() > staleAfter * 1000;
}

/**
 * A push of the image a live rollout is already rolling out is a duplicate (ECR sends one
 * event per tag); any other push takes the lock, superseding a live holder.
 */
export function decideLock(
  current: LockRecord | undefined,
  execution: string,
  image: string,
  now: Date,
  staleAfter: number,
): LockDecision {
  if (!current || current.execution === execution || isStale(current, now, staleAfter)) return { kind: 'take' };
  if (current.image === image) return { kind: 'duplicate', holder: current };
  return { kind: 'take', supersedes: current };
}

/** This execution no longer holds the lock: a newer push took the target over. */
export function supersededBy(current: LockRecord | undefined, execution: string): LockRecord | undefined {
  return current && current.execution !== execution ? current : undefined;
}
