// KubernetesServiceRouter: Flagger's `kubernetes` provider, which has nothing to route with; blue/green only.
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../lambdas/core/errors';
import { KubernetesServiceRouter } from '../../lambdas/adapters/routers/kubernetes-router';
import { rejection } from '../helpers/rejection';
import { WEB_TARGET } from '../helpers/target';

describe('KubernetesServiceRouter', () => {
  const router = new KubernetesServiceRouter();

  it('reads all live traffic on the stable Service, always', async () => {
    // Act
    await router.reconcile(WEB_TARGET);
    await router.setWeights(WEB_TARGET, { primary: 100, canary: 0 });

    // Assess
    expect(await router.getWeights(WEB_TARGET)).toEqual({ primary: 100, canary: 0 });
  });

  it('refuses to give the canary live traffic, naming the Service and the weights asked for', async () => {
    // Act
    const error = await rejection(router.setWeights(WEB_TARGET, { primary: 90, canary: 10 }));

    // Assess
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toBe('Service prod/web: the kubernetes router shifts no traffic (blue/green only), asked for 90/10');
  });
});
