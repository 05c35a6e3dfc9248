// Workloads on a Kubernetes cluster: the canary Deployment and Service, rollout progress, image, replicas and the status annotation.
import {
  AppsV1Api,
  CoreV1Api,
  PatchStrategy,
  type KubeConfig,
  type V1Deployment,
  type V1LabelSelector,
  type V1Service,
} from '@kubernetes/client-node';
import { KubernetesTransientError, TargetNotFoundError } from '../../core/errors';
import type { CanaryWorkloadRequest, RolloutProgress, Workloads } from '../../ports/workloads';
import { kubernetesError, patchAs, statusCodeOf } from './client';

export const CANARY_ROLE_LABEL = 'fledge.dev/role';
export const CANARY_OF_ANNOTATION = 'fledge.dev/canary-of';
export const STATUS_ANNOTATION = 'fledge.dev/status';

export interface KubernetesWorkloadsOptions {
  /** Attempts of a read-modify-write when the object changes under us (409). @default 5 */
  readonly conflictAttempts?: number;
}

const LABEL_VALUE_MAX = 63;

/** `web` → `web-canary`, kept a valid label value (at most 63 characters, alphanumeric at both ends). */
export function canaryLabelValue(value: string): string {
  if (value === '') return 'canary';
  const suffix = '-canary';
  return value.length + suffix.length <= LABEL_VALUE_MAX ? `${value}${suffix}` : `${value.slice(0, LABEL_VALUE_MAX - suffix.length).replace(/[-_.]+$/, '')}${suffix}`;
}

/**
 * Pod labels for the canary that neither the stable Service's selector nor the stable
 * Deployment's selector can match: every label either selects on gets `-canary` appended.
 * Returns the pod labels and the canary's own selector (the rewritten labels plus the role).
 */
export function canaryLabels(
  podLabels: Record<string, string>,
  serviceSelector: Record<string, string>,
  deploymentSelector: V1LabelSelector | undefined,
): { podLabels: Record<string, string>; selector: Record<string, string> } {
  const keys = new Set([
    ...Object.keys(serviceSelector),
    ...Object.keys(deploymentSelector?.matchLabels ?? {}),
    ...(deploymentSelector?.matchExpressions ?? []).map((expression) => expression.key),
  ]);
  const labels = { ...podLabels };
  const selector: Record<string, string> = {};
  for (const key of keys) {
    if (labels[key] === undefined) continue;
    labels[key] = canaryLabelValue(labels[key]);
    selector[key] = labels[key];
  }
  labels[CANARY_ROLE_LABEL] = 'canary';
  selector[CANARY_ROLE_LABEL] = 'canary';
  return { podLabels: labels, selector };
}

const sameLabels = (a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean => {
  const left = Object.entries(a ?? {});
  return left.length === Object.keys(b ?? {}).length && left.every(([k, v]) => b?.[k] === v);
};

/**
 * The canary Service's type: NodePort when the stable Service has node ports (NodePort or
 * LoadBalancer), since the AWS Load Balancer Controller's `instance` target type (its default)
 * sends to node ports, and it refuses a ClusterIP Service there; never LoadBalancer, which would
 * provision a second load balancer for the canary. Otherwise ClusterIP. Node port numbers are
 * left to the API server to allocate: the stable Service's are taken.
 */
export function canaryServiceType(stableType: string | undefined): 'NodePort' | 'ClusterIP' {
  return stableType === 'NodePort' || stableType === 'LoadBalancer' ? 'NodePort' : 'ClusterIP';
}

export class KubernetesWorkloads implements Workloads {
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;
  private readonly conflictAttempts: number;

  constructor(kubeConfig: KubeConfig, options: KubernetesWorkloadsOptions = {}) {
    this.apps = kubeConfig.makeApiClient(AppsV1Api);
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.conflictAttempts = options.conflictAttempts ?? 5;
  }

  private async readDeployment(namespace: string, name: string): Promise<V1Deployment> {
    try {
      return await this.apps.readNamespacedDeployment({ name, namespace });
    } catch (err) {
      throw kubernetesError(err, `read Deployment ${namespace}/${name}`, { notFound: `Deployment ${namespace}/${name} not found` });
    }
  }

  private async readService(namespace: string, name: string): Promise<V1Service> {
    try {
      return await this.core.readNamespacedService({ name, namespace });
    } catch (err) {
      throw kubernetesError(err, `read Service ${namespace}/${name}`, { notFound: `Service ${namespace}/${name} not found` });
    }
  }

  async assertServiceExists(namespace: string, service: string): Promise<void> {
    await this.readService(namespace, service);
  }

  async getContainerImages(namespace: string, deployment: string): Promise<Record<string, string>> {
    const found = await this.readDeployment(namespace, deployment);
    return Object.fromEntries((found.spec?.template.spec?.containers ?? []).map((c) => [c.name, c.image ?? '']));
  }

  async ensureCanary(request: CanaryWorkloadRequest): Promise<void> {
    const { target, container, image } = request;
    const { namespace } = target;
    // Read both stable objects before writing anything: a missing one must leave the cluster untouched.
    const stable = await this.readDeployment(namespace, target.deployment);
    const service = await this.readService(namespace, target.service);
    const template = stable.spec?.template;
    const containers = template?.spec?.containers ?? [];
    if (!containers.some((c) => c.name === container)) {
      throw new TargetNotFoundError(
        `Container "${container}" not found in Deployment ${namespace}/${target.deployment} (containers: ${containers.map((c) => c.name).join(', ') || 'none'})`,
      );
    }

    const { podLabels, selector } = canaryLabels(template?.metadata?.labels ?? {}, service.spec?.selector ?? {}, stable.spec?.selector);
    const canaryDeployment: V1Deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name: target.canaryDeployment,
        namespace,
        labels: { ...stable.metadata?.labels, [CANARY_ROLE_LABEL]: 'canary' },
        annotations: { [CANARY_OF_ANNOTATION]: target.deployment },
      },
      spec: {
        replicas: request.replicas ?? stable.spec?.replicas ?? 1,
        selector: { matchLabels: selector },
        template: {
          metadata: { ...template?.metadata, labels: podLabels },
          spec: { ...template!.spec!, containers: containers.map((c) => (c.name === container ? { ...c, image } : c)) },
        },
        ...(stable.spec?.strategy ? { strategy: stable.spec.strategy } : {}),
        ...(stable.spec?.minReadySeconds !== undefined ? { minReadySeconds: stable.spec.minReadySeconds } : {}),
        ...(stable.spec?.progressDeadlineSeconds !== undefined ? { progressDeadlineSeconds: stable.spec.progressDeadlineSeconds } : {}),
      },
    };
    const canaryService: V1Service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: target.canaryService,
        namespace,
        labels: { [CANARY_ROLE_LABEL]: 'canary' },
        annotations: { [CANARY_OF_ANNOTATION]: target.service },
      },
      spec: {
        type: canaryServiceType(service.spec?.type),
        selector,
        ports: (service.spec?.ports ?? []).map(({ name, port, targetPort, protocol, appProtocol }) => ({
          ...(name !== undefined ? { name } : {}),
          port,
          ...(targetPort !== undefined ? { targetPort } : {}),
          ...(protocol !== undefined ? { protocol } : {}),
          ...(appProtocol !== undefined ? { appProtocol } : {}),
        })),
      },
    };

    await this.upsertDeployment(canaryDeployment);
    await this.upsertService(canaryService);
  }

  /** Create, or replace with the current resourceVersion; on a lost race re-read and try again. */
  private async upsert<T extends { metadata?: { resourceVersion?: string; annotations?: Record<string, string> } }>(
    what: string,
    desired: T,
    ops: {
      read: () => Promise<T>;
      create: (body: T) => Promise<unknown>;
      replace: (body: T) => Promise<unknown>;
      /** Prepare the replacement from the live object; return undefined to recreate instead (immutable fields changed). */
      merge: (existing: T, desired: T) => T | undefined;
      remove: () => Promise<unknown>;
    },
  ): Promise<void> {
    for (let attempt = 1; attempt <= this.conflictAttempts; attempt++) {
      let existing: T | undefined;
      try {
        existing = await ops.read();
      } catch (err) {
        if (statusCodeOf(err) !== 404) throw kubernetesError(err, `read ${what}`);
      }
      try {
        if (!existing) {
          await ops.create(desired);
          return;
        }
        const replacement = ops.merge(existing, desired);
        if (replacement) {
          await ops.replace(replacement);
          return;
        }
        await ops.remove();
      } catch (err) {
        // 409: created or changed by someone else since we read it; 404: deleted since. Read again.
        const code = statusCodeOf(err);
        if (code !== 409 && code !== 404) throw kubernetesError(err, existing ? `replace ${what}` : `create ${what}`);
      }
    }
    throw new KubernetesTransientError(`write ${what} failed: it kept changing while Fledge wrote it (409 Conflict ${this.conflictAttempts} times)`);
  }

  private async upsertDeployment(desired: V1Deployment): Promise<void> {
    const name = desired.metadata!.name!;
    const namespace = desired.metadata!.namespace!;
    await this.upsert(`Deployment ${namespace}/${name}`, desired, {
      read: () => this.apps.readNamespacedDeployment({ name, namespace }),
      create: (body) => this.apps.createNamespacedDeployment({ namespace, body }),
      replace: (body) => this.apps.replaceNamespacedDeployment({ name, namespace, body }),
      remove: () => this.apps.deleteNamespacedDeployment({ name, namespace }),
      merge: (existing, wanted) => {
        // A Deployment's selector is immutable: when the stable one's labels changed, start the canary over.
        if (!sameLabels(existing.spec?.selector.matchLabels, wanted.spec?.selector.matchLabels) || existing.spec?.selector.matchExpressions?.length) {
          return undefined;
        }
        return {
          ...wanted,
          metadata: {
            ...wanted.metadata,
            resourceVersion: existing.metadata?.resourceVersion,
            // Keep annotations others maintain (deployment.kubernetes.io/revision, the status annotation).
            annotations: { ...existing.metadata?.annotations, ...wanted.metadata?.annotations },
          },
        };
      },
    });
  }

  private async upsertService(desired: V1Service): Promise<void> {
    const name = desired.metadata!.name!;
    const namespace = desired.metadata!.namespace!;
    await this.upsert(`Service ${namespace}/${name}`, desired, {
      read: () => this.core.readNamespacedService({ name, namespace }),
      create: (body) => this.core.createNamespacedService({ namespace, body }),
      replace: (body) => this.core.replaceNamespacedService({ name, namespace, body }),
      remove: () => this.core.deleteNamespacedService({ name, namespace }),
      merge: (existing, wanted) => ({
        ...wanted,
        metadata: {
          ...wanted.metadata,
          resourceVersion: existing.metadata?.resourceVersion,
          annotations: { ...existing.metadata?.annotations, ...wanted.metadata?.annotations },
        },
        // The cluster IP is allocated once and immutable, and node ports once: carry them over.
        spec: {
          ...wanted.spec,
          ...(existing.spec?.clusterIP ? { clusterIP: existing.spec.clusterIP } : {}),
          ...(existing.spec?.clusterIPs ? { clusterIPs: existing.spec.clusterIPs } : {}),
          ports: wanted.spec?.ports?.map((port) => {
            const nodePort = wanted.spec?.type === 'NodePort' ? existing.spec?.ports?.find((old) => old.port === port.port)?.nodePort : undefined;
            return nodePort !== undefined ? { ...port, nodePort } : port;
          }),
        },
      }),
    });
  }

  async getRolloutProgress(namespace: string, deployment: string, container: string): Promise<RolloutProgress> {
    const found = await this.readDeployment(namespace, deployment);
    const current = (found.spec?.template.spec?.containers ?? []).find((c) => c.name === container);
    if (!current) {
      throw new TargetNotFoundError(`Container "${container}" not found in Deployment ${namespace}/${deployment}`);
    }
    const desired = found.spec?.replicas ?? 1;
    const status = found.status ?? {};
    // Zero counts are omitted from the API's JSON: absent means 0.
    const replicas = status.replicas ?? 0;
    const updatedReplicas = status.updatedReplicas ?? 0;
    const availableReplicas = status.availableReplicas ?? 0;
    const progressing = (status.conditions ?? []).find((c) => c.type === 'Progressing');
    return {
      // As `kubectl rollout status`: the controller saw this generation, and every replica is updated and available.
      complete:
        (status.observedGeneration ?? 0) >= (found.metadata?.generation ?? 0) &&
        updatedReplicas === desired &&
        replicas === updatedReplicas &&
        availableReplicas === updatedReplicas,
      deadlineExceeded: progressing?.status === 'False' && progressing.reason === 'ProgressDeadlineExceeded',
      // The desired count, so that updated/available read as progress towards it.
      replicas: desired,
      updatedReplicas,
      availableReplicas,
      image: current.image ?? '',
    };
  }

  async setImage(namespace: string, deployment: string, container: string, image: string): Promise<void> {
    const what = `set image of container "${container}" in Deployment ${namespace}/${deployment}`;
    for (let attempt = 1; attempt <= this.conflictAttempts; attempt++) {
      const found = await this.readDeployment(namespace, deployment);
      const containers = found.spec?.template.spec?.containers ?? [];
      const index = containers.findIndex((c) => c.name === container);
      if (index < 0) {
        throw new TargetNotFoundError(
          `Container "${container}" not found in Deployment ${namespace}/${deployment} (containers: ${containers.map((c) => c.name).join(', ') || 'none'})`,
        );
      }
      if (containers[index].image === image) return;
      try {
        // A JSON patch addresses the container by index; the tests make it fail rather than change another container if the list
        // moved, or land late over a newer write (a rollback's, say) should this request outlive its answer: it applies to the object read.
        await this.apps.patchNamespacedDeployment(
          {
            name: deployment,
            namespace,
            body: [
              { op: 'test', path: '/metadata/resourceVersion', value: found.metadata?.resourceVersion },
              { op: 'test', path: `/spec/template/spec/containers/${index}/name`, value: container },
              { op: 'replace', path: `/spec/template/spec/containers/${index}/image`, value: image },
            ],
          },
          patchAs(PatchStrategy.JsonPatch),
        );
        return;
      } catch (err) {
        // 422: a test failed, the Deployment changed since the read. Read again.
        if (statusCodeOf(err) !== 422) throw kubernetesError(err, what, { notFound: `Deployment ${namespace}/${deployment} not found` });
      }
    }
    throw new KubernetesTransientError(`${what} failed: the Deployment kept changing between read and write (${this.conflictAttempts} attempts)`);
  }

  async scale(namespace: string, deployment: string, replicas: number): Promise<void> {
    try {
      await this.apps.patchNamespacedDeployment(
        { name: deployment, namespace, body: { spec: { replicas } } },
        patchAs(PatchStrategy.MergePatch),
      );
    } catch (err) {
      // Nothing to scale is already at zero (a canary that was never created, or was removed).
      if (statusCodeOf(err) === 404) return;
      throw kubernetesError(err, `scale Deployment ${namespace}/${deployment} to ${replicas}`);
    }
  }

  async annotateStatus(namespace: string, deployment: string, status: string): Promise<void> {
    try {
      await this.apps.patchNamespacedDeployment(
        { name: deployment, namespace, body: { metadata: { annotations: { [STATUS_ANNOTATION]: status } } } },
        patchAs(PatchStrategy.MergePatch),
      );
    } catch (err) {
      throw kubernetesError(err, `annotate Deployment ${namespace}/${deployment} with ${STATUS_ANNOTATION}`, {
        notFound: `Deployment ${namespace}/${deployment} not found`,
      });
    }
  }
}
