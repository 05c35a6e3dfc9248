// Traffic router for ingress-nginx: a canary Ingress beside the user's Ingress, its share set by nginx's canary-weight annotation.
import {
  NetworkingV1Api,
  type KubeConfig,
  type V1HTTPIngressPath,
  type V1Ingress,
  type V1IngressBackend,
  type V1IngressRule,
  type V1IngressSpec,
} from '@kubernetes/client-node';
import { KubernetesRequestError, TargetNotFoundError, TrafficDriftError } from '../../core/errors';
import type { RolloutTarget } from '../../ports/target';
import type { TrafficRouter, Weights } from '../../ports/traffic-router';
import { kubernetesError, statusCodeOf } from '../kubernetes/client';
import { CANARY_OF_ANNOTATION, CANARY_ROLE_LABEL } from '../kubernetes/kubernetes-workloads';
import { retryOnConflict } from './route-writes';

export interface NginxRouterOptions {
  /** Read-modify-write attempts when the canary Ingress changes under us (409). @default 5 */
  readonly conflictAttempts?: number;
  /** First backoff between attempts, doubled each time. @default 25 */
  readonly backoffMs?: number;
  /** The controller's `--annotations-prefix`. @default 'nginx.ingress.kubernetes.io' */
  readonly annotationsPrefix?: string;
}

/** ingress-nginx's weight total when `canary-weight-total` is not set: canary-weight is then a percentage. */
const DEFAULT_WEIGHT_TOTAL = 100;

/** Never carried over from the apex: it describes the apex, and would make `kubectl apply` treat the canary as the apex. */
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

const apexName = (target: RolloutTarget): string => `Ingress ${target.namespace}/${target.route}`;
const canaryIngressName = (target: RolloutTarget): string => `${target.route}-canary`;
const canaryName = (target: RolloutTarget): string => `Ingress ${target.namespace}/${canaryIngressName(target)}`;
const adoptionHint = (target: RolloutTarget): string =>
  `Fledge shifts traffic with a canary Ingress beside an existing Ingress whose paths send to Service ${target.service}`;

const sendsTo = (backend: V1IngressBackend | undefined, service: string): boolean => backend?.service?.name === service;

/** JSON with sorted keys and no undefined fields: client-node's objects and the ones built here compare by content. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

export class NginxRouter implements TrafficRouter {
  private readonly api: NetworkingV1Api;
  private readonly conflictAttempts: number;
  private readonly backoffMs: number;
  private readonly canaryKey: string;
  private readonly weightKey: string;
  private readonly weightTotalKey: string;

  constructor(kubeConfig: KubeConfig, options: NginxRouterOptions = {}) {
    this.api = kubeConfig.makeApiClient(NetworkingV1Api);
    this.conflictAttempts = options.conflictAttempts ?? 5;
    this.backoffMs = options.backoffMs ?? 25;
    const prefix = options.annotationsPrefix ?? 'nginx.ingress.kubernetes.io';
    this.canaryKey = `${prefix}/canary`;
    this.weightKey = `${prefix}/canary-weight`;
    this.weightTotalKey = `${prefix}/canary-weight-total`;
  }

  async reconcile(target: RolloutTarget): Promise<void> {
    // An existing canary Ingress keeps its weight: reconcile adopts, it does not move traffic.
    await this.ensure(target, 'create or update', (existing) => (existing ? this.tryWeight(existing) ?? 0 : 0));
  }

  async setWeights(target: RolloutTarget, weights: Weights): Promise<void> {
    const { primary, canary } = weights;
    if (!Number.isInteger(canary) || canary < 0 || canary > 100 || primary !== 100 - canary) {
      throw new RangeError(`${canaryName(target)}: ingress-nginx splits by a whole canary percentage; got ${primary}/${canary}`);
    }
    await this.ensure(target, `set weights ${primary}/${canary} on`, () => canary);
  }

  async getWeights(target: RolloutTarget): Promise<Weights> {
    // The apex is read too: with it gone nothing routes at all, and Initialize relies on this read to find that out.
    canarySpec(await this.readApex(target), target);
    const canary = await this.readCanary(target);
    if (!canary) return { primary: 100, canary: 0 };
    this.assertOwned(canary, target);
    const annotations = canary.metadata?.annotations ?? {};
    if (annotations[this.canaryKey] !== 'true') {
      throw new TrafficDriftError(
        `${canaryName(target)} is not marked as a canary (${this.canaryKey}: ${JSON.stringify(annotations[this.canaryKey] ?? null)}): ingress-nginx serves it as a second Ingress for the same paths`,
      );
    }
    const weight = this.parseWeight(annotations[this.weightKey], 0, target, this.weightKey);
    const total = this.parseWeight(annotations[this.weightTotalKey], DEFAULT_WEIGHT_TOTAL, target, this.weightTotalKey);
    if (total === 0 || weight > total) {
      throw new TrafficDriftError(`${canaryName(target)}: ${this.weightKey} ${weight} is not within ${this.weightTotalKey} ${total}`);
    }
    const share = Math.round((weight * 100) / total);
    return { primary: 100 - share, canary: share };
  }

  async finalize(target: RolloutTarget): Promise<void> {
    await retryOnConflict(
      this.conflictAttempts,
      this.backoffMs,
      async () => {
        await this.readApex(target);
        const canary = await this.readCanary(target);
        if (!canary) return 'done';
        this.assertOwned(canary, target);
        try {
          // Weight 0 first: should the delete fail, stable already has all the traffic.
          const annotations = canary.metadata!.annotations!;
          if (annotations[this.weightKey] !== '0') {
            annotations[this.weightKey] = '0';
            await this.api.replaceNamespacedIngress({ name: canaryIngressName(target), namespace: target.namespace, body: canary });
          }
          await this.api.deleteNamespacedIngress({ name: canaryIngressName(target), namespace: target.namespace });
          return 'done';
        } catch (err) {
          const code = statusCodeOf(err);
          // 404: someone deleted it first, which is the end state; 409: changed since read, read again.
          if (code === 404) return 'done';
          if (code !== 409) throw kubernetesError(err, `remove ${canaryName(target)}`);
          return 'conflict';
        }
      },
      { action: `remove ${canaryName(target)}`, noun: 'Ingress' },
    );
  }

  /**
   * Read the apex and the canary Ingress, build the canary Ingress the apex calls for with the
   * weight chosen, and create it or replace it (with the resourceVersion read) when it differs.
   * Nothing is written before the apex is found to send to the stable Service.
   */
  private async ensure(target: RolloutTarget, action: string, weightFor: (existing: V1Ingress | undefined) => number): Promise<void> {
    await retryOnConflict(
      this.conflictAttempts,
      this.backoffMs,
      async () => {
        const apex = await this.readApex(target);
        const spec = canarySpec(apex, target);
        const existing = await this.readCanary(target);
        if (existing) this.assertOwned(existing, target);
        const desired = this.desired(target, apex, spec, existing, weightFor(existing));
        if (existing && canonical(pick(existing)) === canonical(pick(desired))) return 'done';
        try {
          if (existing) await this.api.replaceNamespacedIngress({ name: canaryIngressName(target), namespace: target.namespace, body: desired });
          else await this.api.createNamespacedIngress({ namespace: target.namespace, body: desired });
          return 'done';
        } catch (err) {
          const code = statusCodeOf(err);
          // 409: created or changed by someone else since the read; 404 on a replace: deleted since. Read again.
          if (code !== 409 && !(existing && code === 404)) throw kubernetesError(err, `${action} ${canaryName(target)}`);
          return 'conflict';
        }
      },
      { action: `${action} ${canaryName(target)}`, noun: 'Ingress' },
    );
  }

  /**
   * The canary Ingress: the apex's labels and annotations (less nginx's canary ones), the paths
   * that send to the stable Service now sending to the canary Service, and Fledge's marks.
   */
  private desired(target: RolloutTarget, apex: V1Ingress, spec: V1IngressSpec, existing: V1Ingress | undefined, weight: number): V1Ingress {
    const annotations = Object.fromEntries(
      Object.entries(apex.metadata?.annotations ?? {}).filter(([key]) => key !== LAST_APPLIED && !this.isCanaryAnnotation(key)),
    );
    return {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: {
        ...existing?.metadata,
        name: canaryIngressName(target),
        namespace: target.namespace,
        labels: { ...apex.metadata?.labels, [CANARY_ROLE_LABEL]: 'canary' },
        annotations: { ...annotations, [CANARY_OF_ANNOTATION]: target.route, [this.canaryKey]: 'true', [this.weightKey]: String(weight) },
      },
      spec,
    };
  }

  private isCanaryAnnotation(key: string): boolean {
    return key === this.canaryKey || key.startsWith(`${this.canaryKey}-`);
  }

  /** An Ingress named `<route>-canary` that Fledge did not create is the user's: never overwritten, never deleted. */
  private assertOwned(ingress: V1Ingress, target: RolloutTarget): void {
    const owner = ingress.metadata?.annotations?.[CANARY_OF_ANNOTATION];
    if (owner !== target.route) {
      throw new KubernetesRequestError(
        `${canaryName(target)} exists and is not Fledge's canary Ingress for ${target.route} (${CANARY_OF_ANNOTATION}: ${JSON.stringify(owner ?? null)}): Fledge will not take it over; rename or remove it`,
      );
    }
  }

  /** The weight the canary Ingress has, or undefined when its annotation is not a whole number. */
  private tryWeight(ingress: V1Ingress): number | undefined {
    const raw = ingress.metadata?.annotations?.[this.weightKey];
    return raw !== undefined && /^\d+$/.test(raw) && Number(raw) <= 100 ? Number(raw) : undefined;
  }

  private parseWeight(raw: string | undefined, absent: number, target: RolloutTarget, key: string): number {
    if (raw === undefined) return absent;
    if (!/^\d+$/.test(raw)) throw new TrafficDriftError(`${canaryName(target)}: ${key} is ${JSON.stringify(raw)}, not a whole number`);
    return Number(raw);
  }

  private async readApex(target: RolloutTarget): Promise<V1Ingress> {
    try {
      return await this.api.readNamespacedIngress({ name: target.route, namespace: target.namespace });
    } catch (err) {
      throw kubernetesError(err, `read ${apexName(target)}`, { notFound: `${apexName(target)} not found: ${adoptionHint(target)}` });
    }
  }

  private async readCanary(target: RolloutTarget): Promise<V1Ingress | undefined> {
    try {
      return await this.api.readNamespacedIngress({ name: canaryIngressName(target), namespace: target.namespace });
    } catch (err) {
      if (statusCodeOf(err) === 404) return undefined;
      throw kubernetesError(err, `read ${canaryName(target)}`);
    }
  }

}

/** What Fledge sets on the canary Ingress; everything else (status, uid, managedFields) is the server's. */
const pick = (ingress: V1Ingress) => ({
  labels: ingress.metadata?.labels ?? {},
  annotations: ingress.metadata?.annotations ?? {},
  spec: ingress.spec,
});

/**
 * The canary Ingress's spec: the apex's class, and only its paths (and default backend) that send
 * to the stable Service, pointed at the canary Service on the same port. Other paths are left
 * out, so the canary never takes a share of another app's traffic; TLS is left out too, as
 * ingress-nginx terminates TLS with the apex's server block, and a copy would have cert-manager
 * issue a second Certificate for the same Secret.
 */
function canarySpec(apex: V1Ingress, target: RolloutTarget): V1IngressSpec {
  const toCanary = (backend: V1IngressBackend): V1IngressBackend => ({ service: { ...backend.service!, name: target.canaryService } });
  const rules: V1IngressRule[] = (apex.spec?.rules ?? []).flatMap((rule) => {
    const paths: V1HTTPIngressPath[] = (rule.http?.paths ?? [])
      .filter((path) => sendsTo(path.backend, target.service))
      .map((path) => ({ ...path, backend: toCanary(path.backend) }));
    return paths.length > 0 ? [{ ...(rule.host !== undefined ? { host: rule.host } : {}), http: { paths } }] : [];
  });
  const defaultBackend = sendsTo(apex.spec?.defaultBackend, target.service) ? toCanary(apex.spec!.defaultBackend!) : undefined;
  if (rules.length === 0 && !defaultBackend) {
    throw new TargetNotFoundError(`${apexName(target)} has no path with a backend to Service ${target.service}: ${adoptionHint(target)}`);
  }
  return {
    ...(apex.spec?.ingressClassName !== undefined ? { ingressClassName: apex.spec.ingressClassName } : {}),
    ...(defaultBackend ? { defaultBackend } : {}),
    ...(rules.length > 0 ? { rules } : {}),
  };
}
