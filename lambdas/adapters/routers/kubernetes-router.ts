// The `kubernetes` router (Flagger's provider of that name): no routing object, so no live traffic ever goes to the canary; blue/green only.
import { ConfigurationError } from '../../core/errors';
import type { RolloutTarget } from '../../ports/target';
import type { TrafficRouter, Weights } from '../../ports/traffic-router';

/**
 * The stable Service keeps all live traffic: the canary is reached only through its own
 * Service (`<service>-canary`), by the rollout webhooks' load tests. Weights are always
 * 100/0, and nothing is written; asking for canary traffic is a configuration error, which
 * the Canary's validation (iterations only) keeps from happening.
 */
export class KubernetesServiceRouter implements TrafficRouter {
  async reconcile(_target: RolloutTarget): Promise<void> {}

  async setWeights(target: RolloutTarget, weights: Weights): Promise<void> {
    if (weights.canary !== 0 || weights.primary !== 100) {
      throw new ConfigurationError(
        `Service ${target.namespace}/${target.service}: the kubernetes router shifts no traffic (blue/green only), asked for ${weights.primary}/${weights.canary}`,
      );
    }
  }

  async getWeights(_target: RolloutTarget): Promise<Weights> {
    return { primary: 100, canary: 0 };
  }

  async finalize(_target: RolloutTarget): Promise<void> {}
}
