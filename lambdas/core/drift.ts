// Drift: what someone else changed under a running rollout, and what Fledge does about it.
import type { Weights } from '../ports/traffic-router';

const isCanaryWeight = (weights: Weights, canary: number) => weights.canary === canary && weights.primary === 100 - canary;

/**
 * Route weights that are neither the ones Fledge last set nor the ones this step is about to
 * set (a retried step after a partial write). Fledge re-asserts its weights (they are
 * absolute), and says what it found. Undefined when there is no drift.
 */
export function trafficDrift(lastCanaryWeight: number, nextCanaryWeight: number, actual: Weights): string | undefined {
  if (isCanaryWeight(actual, lastCanaryWeight) || isCanaryWeight(actual, nextCanaryWeight)) return undefined;
  return `route had ${actual.primary}% stable / ${actual.canary}% canary, Fledge had set ${100 - lastCanaryWeight}% / ${lastCanaryWeight}%: re-asserting`;
}

/**
 * A canary Deployment that no longer runs the rollout's image cannot be analysed for it:
 * Fledge halts and rolls back. Undefined when the canary is as Fledge made it.
 */
export function canaryDrift(expectedImage: string, actualImage: string, where: string): string | undefined {
  if (actualImage === expectedImage) return undefined;
  return `${where} runs ${actualImage}, not ${expectedImage}: someone changed the canary during the rollout`;
}
