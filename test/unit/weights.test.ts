// Weight progression: the canary weights a rollout steps through, and what a decision does to the step.
import { describe, expect, it } from 'vitest';
import type { CanarySpec } from '../../lambdas/core/spec';
import { appendWeight, nextStepIndex, routeWeights, weightSteps, weightsDiffer } from '../../lambdas/core/weights';
import { seedCanary } from './seed';

function analysis(weights: Pick<CanarySpec['analysis'], 'stepWeight' | 'maxWeight' | 'stepWeights' | 'iterations'>): CanarySpec['analysis'] {
  return { interval: '1m', intervalSeconds: 60, threshold: 3, metrics: [], webhooks: [], ...weights };
}

describe('weightSteps', () => {
  it('steps the seed Canary 10/50 through 10, 20, 30, 40, 50', () => {
    // Prepare
    const canary = seedCanary();

    // Act
    const steps = weightSteps(canary.analysis, canary.router);

    // Assess
    expect(steps).toEqual([10, 20, 30, 40, 50]);
  });

  it('ends on maxWeight when stepWeight does not divide it: 30/50 → 30, 50', () => {
    expect(weightSteps(analysis({ stepWeight: 30, maxWeight: 50 }), 'gatewayapi')).toEqual([30, 50]);
  });

  it('runs one step when stepWeight equals maxWeight', () => {
    expect(weightSteps(analysis({ stepWeight: 50, maxWeight: 50 }), 'gatewayapi')).toEqual([50]);
  });

  it('goes up to 100 when maxWeight is not set', () => {
    expect(weightSteps(analysis({ stepWeight: 25 }), 'gatewayapi')).toEqual([25, 50, 75, 100]);
  });

  it('uses stepWeights as given', () => {
    expect(weightSteps(analysis({ stepWeights: [1, 5, 25, 80] }), 'gatewayapi')).toEqual([1, 5, 25, 80]);
  });

  it('runs blue/green as iterations at weight 0 (load tests only), then one analysis with all the traffic, as Flagger', () => {
    expect(weightSteps(analysis({ iterations: 3 }), 'gatewayapi')).toEqual([0, 0, 0, 100]);
  });

  it('runs blue/green on the kubernetes router without the switch: it has no traffic to move, as in Flagger', () => {
    expect(weightSteps(analysis({ iterations: 3 }), 'kubernetes')).toEqual([0, 0, 0]);
  });

  it('returns a copy, so a caller cannot change the spec through it', () => {
    // Prepare
    const spec = analysis({ stepWeights: [10, 20] });

    // Act
    weightSteps(spec, 'gatewayapi').push(99);

    // Assess
    expect(spec.stepWeights).toEqual([10, 20]);
  });
});

describe('nextStepIndex', () => {
  it('starts at the first step before any analysis', () => {
    expect(nextStepIndex(-1, undefined)).toBe(0);
  });

  it('advances one step after continue', () => {
    expect(nextStepIndex(2, 'continue')).toBe(3);
  });

  it('keeps the index after hold', () => {
    expect(nextStepIndex(2, 'hold')).toBe(2);
  });
});

describe('routeWeights', () => {
  it('gives the stable side the rest of the traffic', () => {
    expect(routeWeights(20)).toEqual({ primary: 80, canary: 20 });
  });

  it('routes everything to stable at canary weight 0', () => {
    expect(routeWeights(0)).toEqual({ primary: 100, canary: 0 });
  });
});

describe('weightsDiffer', () => {
  it('sees no drift when the weights read back are the ones set', () => {
    expect(weightsDiffer({ primary: 80, canary: 20 }, { primary: 80, canary: 20 })).toBe(false);
  });

  it.each([
    [{ primary: 100, canary: 0 }],
    [{ primary: 80, canary: 0 }],
    [{ primary: 70, canary: 20 }],
  ])('sees drift when the route reads back %j instead of 80/20', (actual) => {
    expect(weightsDiffer({ primary: 80, canary: 20 }, actual)).toBe(true);
  });
});

describe('appendWeight', () => {
  it('appends a new weight to the history', () => {
    expect(appendWeight([10, 20], 30)).toEqual([10, 20, 30]);
  });

  it('records a held weight once', () => {
    expect(appendWeight([10, 20], 20)).toEqual([10, 20]);
  });

  it('leaves the history it was given unchanged', () => {
    // Prepare
    const history = [10];

    // Act
    const appended = appendWeight(history, 20);

    // Assess
    expect(history).toEqual([10]);
    expect(appended).toEqual([10, 20]);
  });
});
