// The `fledge.dev/status` annotation Fledge keeps on the target Deployment: where a rollout stands, in one line of JSON.
import type { RolloutPlan, RolloutStatus } from '../core/rollout';

export function statusAnnotation(plan: RolloutPlan, status: RolloutStatus): string {
  return JSON.stringify({
    phase: status.phase,
    image: plan.image,
    canaryWeight: status.weight,
    failedChecks: status.failedChecks,
    reason: status.reason,
    updatedAt: status.updatedAt,
  });
}
