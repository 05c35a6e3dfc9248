// Weight progression: the canary weights a rollout steps through, and the step after a decision.
import type { CanarySpec, RouterType } from './spec';

/**
 * The canary weights in order: stepWeights as given, or stepWeight up to maxWeight (10/50 →
 * 10,20,30,40,50), or for blue/green `iterations` analyses at weight 0 (the canary gets only
 * the load tests' traffic) and then, as Flagger switches all traffic to it, one at 100 —
 * except on the `kubernetes` router, which has no traffic to switch (Flagger's neither).
 */
export function weightSteps(analysis: CanarySpec['analysis'], router: RouterType): number[] {
  if (analysis.iterations !== undefined) {
    const iterations = Array<number>(analysis.iterations).fill(0);
    return router === 'kubernetes' ? iterations : [...iterations, 100];
  }
  if (analysis.stepWeights) return [...analysis.stepWeights];
  const step = analysis.stepWeight!;
  const max = analysis.maxWeight ?? 100;
  const steps: number[] = [];
  for (let w = step; w < max; w += step) steps.push(w);
  steps.push(max);
  return steps;
}

/**
 * Index of the step to run next. A failed check below the threshold holds the current
 * weight (as Flagger does): traffic only moves forward after a passing analysis.
 */
export function nextStepIndex(currentIndex: number, lastDecision: 'hold' | 'continue' | undefined): number {
  if (currentIndex < 0) return 0;
  return lastDecision === 'hold' ? currentIndex : currentIndex + 1;
}

/** Absolute route weights for a canary weight: the stable side takes the rest. */
export function routeWeights(canaryWeight: number): { primary: number; canary: number } {
  return { primary: 100 - canaryWeight, canary: canaryWeight };
}

/** Weights read back differ from the ones set: someone or something changed the route. */
export function weightsDiffer(expected: { primary: number; canary: number }, actual: { primary: number; canary: number }): boolean {
  return expected.primary !== actual.primary || expected.canary !== actual.canary;
}

/** The weight history with a new weight appended, a held weight appearing once. */
export function appendWeight(history: readonly number[], weight: number): number[] {
  return history[history.length - 1] === weight ? [...history] : [...history, weight];
}
