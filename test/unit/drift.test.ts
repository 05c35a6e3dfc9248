import { describe, expect, it } from 'vitest';
import { canaryDrift, trafficDrift } from '../../lambdas/core/drift';

describe('drift', () => {
  it('sees no drift in the weights Fledge last set, nor in the ones a retried step already set', () => {
    expect(trafficDrift(10, 20, { primary: 90, canary: 10 })).toBeUndefined();
    expect(trafficDrift(10, 20, { primary: 80, canary: 20 })).toBeUndefined();
  });

  it('says what it found in edited weights, and that it re-asserts its own', () => {
    expect(trafficDrift(10, 20, { primary: 40, canary: 60 })).toBe(
      'route had 40% stable / 60% canary, Fledge had set 90% / 10%: re-asserting',
    );
  });

  it('flags a canary that runs another image than the rollout gave it', () => {
    expect(canaryDrift('web@sha256:1', 'web@sha256:1', 'canary')).toBeUndefined();
    expect(canaryDrift('web@sha256:1', 'web:hotfix', 'canary Deployment prod/web-canary')).toBe(
      'canary Deployment prod/web-canary runs web:hotfix, not web@sha256:1: someone changed the canary during the rollout',
    );
  });
});
