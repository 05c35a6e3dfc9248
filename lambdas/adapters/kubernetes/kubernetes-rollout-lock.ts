// The rollout lock as the `fledge.dev/lock` annotation on the target Deployment, written with its resourceVersion.
import { AppsV1Api, PatchStrategy, type KubeConfig } from '@kubernetes/client-node';
import type { LockRecord, RolloutLock } from '../../ports/rollout-lock';
import type { RolloutTarget } from '../../ports/target';
import { kubernetesError, patchAs, statusCodeOf } from './client';

export const LOCK_ANNOTATION = 'fledge.dev/lock';

function parse(value: string | undefined): LockRecord | undefined {
  if (!value) return undefined;
  try {
    const record = JSON.parse(value) as Partial<LockRecord>;
    if (typeof record.execution === 'string' && typeof record.image === 'string') {
      return {
        execution: record.execution,
        image: record.image,
        acquiredAt: String(record.acquiredAt ?? ''),
        heartbeatAt: String(record.heartbeatAt ?? record.acquiredAt ?? ''),
      };
    }
  } catch {
    // A hand-edited annotation that is not a lock counts as no lock.
  }
  return undefined;
}

const same = (a: LockRecord | undefined, b: LockRecord | undefined) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

export class KubernetesRolloutLock implements RolloutLock {
  private readonly apps: AppsV1Api;

  constructor(kubeConfig: KubeConfig) {
    this.apps = kubeConfig.makeApiClient(AppsV1Api);
  }

  private async readWithVersion(target: RolloutTarget): Promise<{ lock?: LockRecord; resourceVersion?: string }> {
    const where = `Deployment ${target.namespace}/${target.deployment}`;
    try {
      const deployment = await this.apps.readNamespacedDeployment({ name: target.deployment, namespace: target.namespace });
      return { lock: parse(deployment.metadata?.annotations?.[LOCK_ANNOTATION]), resourceVersion: deployment.metadata?.resourceVersion };
    } catch (err) {
      throw kubernetesError(err, `read the rollout lock on ${where}`, { notFound: `${where} not found` });
    }
  }

  async read(target: RolloutTarget): Promise<LockRecord | undefined> {
    return (await this.readWithVersion(target)).lock;
  }

  async replace(target: RolloutTarget, expected: LockRecord | undefined, next: LockRecord | undefined): Promise<boolean> {
    const where = `Deployment ${target.namespace}/${target.deployment}`;
    const { lock, resourceVersion } = await this.readWithVersion(target);
    if (!same(lock, expected)) return false;
    try {
      // The resourceVersion in a merge patch is a precondition: the API server answers 409 if the object moved on.
      await this.apps.patchNamespacedDeployment(
        {
          name: target.deployment,
          namespace: target.namespace,
          body: { metadata: { resourceVersion, annotations: { [LOCK_ANNOTATION]: next ? JSON.stringify(next) : null } } },
        },
        patchAs(PatchStrategy.MergePatch),
      );
      return true;
    } catch (err) {
      if (statusCodeOf(err) === 409) return false;
      throw kubernetesError(err, `write the rollout lock on ${where}`, { notFound: `${where} not found` });
    }
  }
}
