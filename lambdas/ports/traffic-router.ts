// Port: one implementation per data plane shifts traffic between the stable and the canary Service.
import type { RolloutTarget } from './target';

/** Absolute weights in percent; primary + canary = 100. */
export interface Weights {
  readonly primary: number;
  readonly canary: number;
}

export interface TrafficRouter {
  /** Adopt the routing object and make sure it can address the canary (canary weight 0 when added). */
  reconcile(target: RolloutTarget): Promise<void>;
  /** Set absolute weights; idempotent under retries. */
  setWeights(target: RolloutTarget, weights: Weights): Promise<void>;
  /** Read back the weights the data plane really has. */
  getWeights(target: RolloutTarget): Promise<Weights>;
  /** Route 100% to stable and remove what Fledge added. */
  finalize(target: RolloutTarget): Promise<void>;
  /**
   * The values of this router's template variables (ROUTER_VARIABLES in core/template), read
   * from the data plane when metrics are analysed; routers that have none leave it out.
   */
  metricVariables?(target: RolloutTarget): Promise<Readonly<Record<string, string>>>;
}
