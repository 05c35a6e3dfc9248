// Traffic router for Istio: weights on the destinations of an existing VirtualService's http routes.
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { ConfigurationError, TargetNotFoundError } from '../../core/errors';
import type { RolloutTarget } from '../../ports/target';
import type { TrafficRouter, Weights } from '../../ports/traffic-router';
import { kubernetesError, statusCodeOf } from '../kubernetes/client';
import { agreedWeights, percentages, retryOnConflict } from './route-writes';

/** The versions of networking.istio.io Fledge speaks; Istio serves both from one storage. */
export const ISTIO_API_VERSIONS = ['v1beta1', 'v1'] as const;
export type IstioApiVersion = (typeof ISTIO_API_VERSIONS)[number];

interface Destination {
  host: string;
  subset?: string;
  port?: { number?: number; [field: string]: unknown };
  [field: string]: unknown;
}

interface HttpRouteDestination {
  destination: Destination;
  weight?: number;
  [field: string]: unknown;
}

interface HttpRoute {
  name?: string;
  route?: HttpRouteDestination[];
  [field: string]: unknown;
}

interface VirtualService {
  metadata: { name: string; namespace: string; resourceVersion?: string; [field: string]: unknown };
  spec?: { http?: HttpRoute[]; [field: string]: unknown };
  [field: string]: unknown;
}

export interface IstioRouterOptions {
  /** Version of networking.istio.io the VirtualService is read and written as. @default 'v1beta1' (served by every Istio since 1.5; v1 needs Istio 1.22+) */
  readonly apiVersion?: IstioApiVersion;
  /** Read-modify-write attempts when the VirtualService changes under us (409). @default 5 */
  readonly conflictAttempts?: number;
  /** First backoff between attempts, doubled each time. @default 25 */
  readonly backoffMs?: number;
}

/**
 * The forms a destination host may name a Service of the VirtualService's namespace in: Istio
 * resolves a short name against the VirtualService's own namespace, and the cluster domain is
 * taken to be cluster.local.
 */
const hostsOf = (service: string, namespace: string): string[] => [
  service,
  `${service}.${namespace}`,
  `${service}.${namespace}.svc`,
  `${service}.${namespace}.svc.cluster.local`,
];

const sendsTo = (dest: HttpRouteDestination, service: string, namespace: string): boolean =>
  hostsOf(service, namespace).includes(dest.destination?.host);

const stableOf = (route: HttpRoute, target: RolloutTarget): HttpRouteDestination | undefined =>
  (route.route ?? []).find((dest) => sendsTo(dest, target.service, target.namespace));

const canaryOf = (route: HttpRoute, target: RolloutTarget): HttpRouteDestination | undefined =>
  (route.route ?? []).find((dest) => sendsTo(dest, target.canaryService, target.namespace));

const objectName = (target: RolloutTarget): string => `VirtualService ${target.namespace}/${target.route}`;
const adoptionHint = (target: RolloutTarget): string =>
  `Fledge shifts traffic on an existing VirtualService whose http routes send to host ${target.service} (or ${target.service}.${target.namespace}.svc.cluster.local)`;

export class IstioRouter implements TrafficRouter {
  private readonly api: CustomObjectsApi;
  private readonly coordinates: { readonly group: string; readonly version: IstioApiVersion; readonly plural: string };
  private readonly conflictAttempts: number;
  private readonly backoffMs: number;

  constructor(kubeConfig: KubeConfig, options: IstioRouterOptions = {}) {
    const version = options.apiVersion ?? 'v1beta1';
    if (!(ISTIO_API_VERSIONS as readonly string[]).includes(version)) {
      throw new ConfigurationError(`IstioRouter apiVersion: expected one of ${ISTIO_API_VERSIONS.join(', ')}, got ${JSON.stringify(version)}`);
    }
    this.api = kubeConfig.makeApiClient(CustomObjectsApi);
    this.coordinates = { group: 'networking.istio.io', version, plural: 'virtualservices' };
    this.conflictAttempts = options.conflictAttempts ?? 5;
    this.backoffMs = options.backoffMs ?? 25;
  }

  async reconcile(target: RolloutTarget): Promise<void> {
    await this.update(target, 'add the canary destination to', (route, stable) => {
      if (stable.weight === undefined) stable.weight = 100;
      this.canaryDestination(route, stable, target, 0);
    });
  }

  async setWeights(target: RolloutTarget, weights: Weights): Promise<void> {
    await this.update(target, `set weights ${weights.primary}/${weights.canary} on`, (route, stable) => {
      stable.weight = weights.primary;
      this.canaryDestination(route, stable, target, weights.canary).weight = weights.canary;
    });
  }

  async getWeights(target: RolloutTarget): Promise<Weights> {
    const vs = await this.read(target);
    const routes = this.matchingRoutes(vs, target);
    const perRoute = routes.map((route) => {
      // Istio sends everything to a lone destination whatever its weight; among several, a missing weight is 0.
      if ((route.route ?? []).length === 1) return { primary: 100, canary: 0 };
      return percentages(stableOf(route, target)!.weight ?? 0, canaryOf(route, target)?.weight ?? 0);
    });
    return agreedWeights(
      perRoute,
      (i) => this.describe(vs, routes[i]),
      `${objectName(target)}: http routes that send to host ${target.service} disagree on weights`,
    );
  }

  async finalize(target: RolloutTarget): Promise<void> {
    await this.update(target, 'restore 100% to the stable destination on', (route, stable) => {
      stable.weight = 100;
      route.route = (route.route ?? []).filter((dest) => !sendsTo(dest, target.canaryService, target.namespace));
    });
  }

  /** `http[2] (api)`: where a route sits, and its name when it has one. */
  private describe(vs: VirtualService, route: HttpRoute): string {
    const index = (vs.spec?.http ?? []).indexOf(route);
    return `http[${index}]${route.name ? ` (${route.name})` : ''}`;
  }

  /**
   * The canary destination of a route, added right after the stable one when absent: its host in
   * the same form as the stable's (short or qualified) and the same port; not its subset, which
   * belongs to the stable host's DestinationRule.
   */
  private canaryDestination(route: HttpRoute, stable: HttpRouteDestination, target: RolloutTarget, initialWeight: number): HttpRouteDestination {
    const dests = (route.route ??= []);
    const existing = canaryOf(route, target);
    if (existing) return existing;
    const host = target.canaryService + stable.destination.host.slice(target.service.length);
    const port = stable.destination.port?.number;
    const added: HttpRouteDestination = { destination: { host, ...(port !== undefined ? { port: { number: port } } : {}) }, weight: initialWeight };
    dests.splice(dests.indexOf(stable) + 1, 0, added);
    return added;
  }

  private async read(target: RolloutTarget): Promise<VirtualService> {
    try {
      return (await this.api.getNamespacedCustomObject({ ...this.coordinates, namespace: target.namespace, name: target.route })) as VirtualService;
    } catch (err) {
      throw kubernetesError(err, `read ${objectName(target)}`, { notFound: `${objectName(target)} not found: ${adoptionHint(target)}` });
    }
  }

  /** Http routes with a destination to the stable host; the only routes Fledge ever changes (tcp, tls and delegating routes never are). */
  private matchingRoutes(vs: VirtualService, target: RolloutTarget): HttpRoute[] {
    const routes = (vs.spec?.http ?? []).filter((route) => stableOf(route, target) !== undefined);
    if (routes.length === 0) {
      throw new TargetNotFoundError(`${objectName(target)} has no http route with a destination to host ${target.service}: ${adoptionHint(target)}`);
    }
    return routes;
  }

  /**
   * Read, change every matching route, and write back with the resourceVersion read, only when
   * something differs. A 409 means the VirtualService changed since the read: read again, a few times.
   */
  private async update(target: RolloutTarget, action: string, change: (route: HttpRoute, stable: HttpRouteDestination) => void): Promise<void> {
    await retryOnConflict(
      this.conflictAttempts,
      this.backoffMs,
      async () => {
        const vs = await this.read(target);
        const routes = this.matchingRoutes(vs, target);
        const before = JSON.stringify(vs.spec);
        for (const route of routes) change(route, stableOf(route, target)!);
        if (JSON.stringify(vs.spec) === before) return 'done';
        try {
          await this.api.replaceNamespacedCustomObject({ ...this.coordinates, namespace: target.namespace, name: target.route, body: vs });
          return 'done';
        } catch (err) {
          if (statusCodeOf(err) === 409) return 'conflict';
          throw kubernetesError(err, `${action} ${objectName(target)}`, { notFound: `${objectName(target)} not found: ${adoptionHint(target)}` });
        }
      },
      { action: `${action} ${objectName(target)}`, noun: 'VirtualService' },
    );
  }
}
