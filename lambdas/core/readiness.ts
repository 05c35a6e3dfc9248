// Readiness rules: when a Deployment's rollout counts as done, and when waiting for it has gone on too long.
import type { RolloutProgress } from '../ports/workloads';

export type Readiness =
  | { readonly kind: 'ready' }
  | { readonly kind: 'waiting'; readonly detail: string }
  | { readonly kind: 'failed'; readonly detail: string };

/**
 * A rollout is ready when the controller reports it complete with the expected image; it has
 * failed when the Deployment reports ProgressDeadlineExceeded or `deadlineSeconds` have passed
 * since `since` (the Deployment's own deadline may be longer than the Canary's).
 */
export function readiness(
  progress: RolloutProgress,
  expectedImage: string,
  since: Date,
  now: Date,
  deadlineSeconds: number,
): Readiness {
  const counts = `${progress.availableReplicas}/${progress.replicas} available, ${progress.updatedReplicas} updated`;
  if (progress.image !== expectedImage) {
    return { kind: 'failed', detail: `runs image ${progress.image}, expected ${expectedImage}` };
  }
  if (progress.complete) return { kind: 'ready' };
  const elapsedSeconds = Math.floor((now.getTime() - since.getTime()) / 1000);
  if (progress.deadlineExceeded) {
    return { kind: 'failed', detail: `progress deadline exceeded (${counts})` };
  }
  if (elapsedSeconds >= deadlineSeconds) {
    return { kind: 'failed', detail: `not ready after ${elapsedSeconds}s, deadline ${deadlineSeconds}s (${counts})` };
  }
  return { kind: 'waiting', detail: `${counts} after ${elapsedSeconds}s` };
}

