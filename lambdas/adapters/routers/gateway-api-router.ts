// Traffic router for the Kubernetes Gateway API: weights on the backendRefs of an existing HTTPRoute.
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { TargetNotFoundError } from '../../core/errors';
import type { RolloutTarget } from '../../ports/target';
import type { TrafficRouter, Weights } from '../../ports/traffic-router';
import { kubernetesError, statusCodeOf } from '../kubernetes/client';
import { agreedWeights, percentages, retryOnConflict } from './route-writes';

const HTTPROUTES = { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'httproutes' } as const;

/** Gateway API's weight for a backendRef that sets none. */
const DEFAULT_BACKEND_WEIGHT = 1;

interface BackendRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
  weight?: number;
  [field: string]: unknown;
}

interface HttpRouteRule {
  backendRefs?: BackendRef[];
  [field: string]: unknown;
}

interface HttpRoute {
  metadata: { name: string; namespace: string; resourceVersion?: string; [field: string]: unknown };
  spec?: { rules?: HttpRouteRule[]; [field: string]: unknown };
  [field: string]: unknown;
}

export interface GatewayApiRouterOptions {
  /** Read-modify-write attempts when the route changes under us (409). @default 5 */
  readonly conflictAttempts?: number;
  /** First backoff between attempts, doubled each time. @default 25 */
  readonly backoffMs?: number;
}

/** A backendRef to a Service of the route's namespace (the defaults: core group, kind Service, same namespace). */
const refersTo = (ref: BackendRef, service: string, namespace: string): boolean =>
  ref.name === service && (ref.kind ?? 'Service') === 'Service' && (ref.group ?? '') === '' && (ref.namespace ?? namespace) === namespace;

const routeName = (target: RolloutTarget): string => `HTTPRoute ${target.namespace}/${target.route}`;
const adoptionHint = (target: RolloutTarget): string =>
  `Fledge shifts traffic on an existing HTTPRoute whose rules send to Service ${target.service}`;

export class GatewayApiRouter implements TrafficRouter {
  private readonly api: CustomObjectsApi;
  private readonly conflictAttempts: number;
  private readonly backoffMs: number;

  constructor(kubeConfig: KubeConfig, options: GatewayApiRouterOptions = {}) {
    this.api = kubeConfig.makeApiClient(CustomObjectsApi);
    this.conflictAttempts = options.conflictAttempts ?? 5;
    this.backoffMs = options.backoffMs ?? 25;
  }

  async reconcile(target: RolloutTarget): Promise<void> {
    await this.update(target, 'add the canary backend to', (rule, stable) => {
      if (stable.weight === undefined) stable.weight = 100;
      this.canaryRef(rule, stable, target, 0);
    });
  }

  async setWeights(target: RolloutTarget, weights: Weights): Promise<void> {
    await this.update(target, `set weights ${weights.primary}/${weights.canary} on`, (rule, stable) => {
      stable.weight = weights.primary;
      this.canaryRef(rule, stable, target, weights.canary).weight = weights.canary;
    });
  }

  async getWeights(target: RolloutTarget): Promise<Weights> {
    const route = await this.read(target);
    const rules = this.matchingRules(route, target);
    const perRule = rules.map((rule) => {
      const refs = rule.backendRefs ?? [];
      const stable = refs.find((ref) => refersTo(ref, target.service, target.namespace))!;
      const canary = refs.find((ref) => refersTo(ref, target.canaryService, target.namespace));
      return percentages(stable.weight ?? DEFAULT_BACKEND_WEIGHT, canary ? (canary.weight ?? DEFAULT_BACKEND_WEIGHT) : 0);
    });
    return agreedWeights(
      perRule,
      (i) => `rule ${route.spec!.rules!.indexOf(rules[i])}`,
      `${routeName(target)}: rules that send to Service ${target.service} disagree on weights`,
    );
  }

  async finalize(target: RolloutTarget): Promise<void> {
    await this.update(target, 'restore 100% to the stable backend on', (rule, stable) => {
      stable.weight = 100;
      rule.backendRefs = (rule.backendRefs ?? []).filter((ref) => !refersTo(ref, target.canaryService, target.namespace));
    });
  }

  /** The canary backendRef of a rule, added next to the stable one (same port) when absent. */
  private canaryRef(rule: HttpRouteRule, stable: BackendRef, target: RolloutTarget, initialWeight: number): BackendRef {
    const refs = (rule.backendRefs ??= []);
    const existing = refs.find((ref) => refersTo(ref, target.canaryService, target.namespace));
    if (existing) return existing;
    const added: BackendRef = { name: target.canaryService, ...(stable.port !== undefined ? { port: stable.port } : {}), weight: initialWeight };
    refs.splice(refs.indexOf(stable) + 1, 0, added);
    return added;
  }

  private async read(target: RolloutTarget): Promise<HttpRoute> {
    try {
      return (await this.api.getNamespacedCustomObject({ ...HTTPROUTES, namespace: target.namespace, name: target.route })) as HttpRoute;
    } catch (err) {
      throw kubernetesError(err, `read ${routeName(target)}`, { notFound: `${routeName(target)} not found: ${adoptionHint(target)}` });
    }
  }

  /** Rules with a backendRef to the stable Service; the only rules Fledge ever changes. */
  private matchingRules(route: HttpRoute, target: RolloutTarget): HttpRouteRule[] {
    const rules = (route.spec?.rules ?? []).filter((rule) => (rule.backendRefs ?? []).some((ref) => refersTo(ref, target.service, target.namespace)));
    if (rules.length === 0) {
      throw new TargetNotFoundError(`${routeName(target)} has no rule with a backendRef to Service ${target.service}: ${adoptionHint(target)}`);
    }
    return rules;
  }

  /**
   * Read, change every matching rule, and write back with the resourceVersion read, only when
   * something differs. A 409 means the route changed since the read: read again, a few times.
   */
  private async update(target: RolloutTarget, action: string, change: (rule: HttpRouteRule, stable: BackendRef) => void): Promise<void> {
    await retryOnConflict(
      this.conflictAttempts,
      this.backoffMs,
      async () => {
        const route = await this.read(target);
        const rules = this.matchingRules(route, target);
        const before = JSON.stringify(route.spec);
        for (const rule of rules) {
          change(rule, (rule.backendRefs ?? []).find((ref) => refersTo(ref, target.service, target.namespace))!);
        }
        if (JSON.stringify(route.spec) === before) return 'done';
        try {
          await this.api.replaceNamespacedCustomObject({ ...HTTPROUTES, namespace: target.namespace, name: target.route, body: route });
          return 'done';
        } catch (err) {
          if (statusCodeOf(err) === 409) return 'conflict';
          throw kubernetesError(err, `${action} ${routeName(target)}`, { notFound: `${routeName(target)} not found: ${adoptionHint(target)}` });
        }
      },
      { action: `${action} ${routeName(target)}`, noun: 'route' },
    );
  }
}
