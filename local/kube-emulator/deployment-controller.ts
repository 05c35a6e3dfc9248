// Simulated Deployment controller: writes the rollout status a real cluster would report, on a scaled clock.
import { createHash } from 'node:crypto';
import type { ChangeEvent, KubeObject, ObjectStore, ResourceType } from './store';

export type RolloutBehavior = 'ready' | 'stuck';

const key = (namespace: string, name: string): string => `${namespace}/${name}`;
const now = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The pod-template-hash suffix the real controller gives the ReplicaSet, shown in condition messages. */
function replicaSetName(deployment: KubeObject): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  const digest = createHash('sha256').update(JSON.stringify(deployment.spec?.template ?? {})).digest();
  const suffix = [...digest.subarray(0, 10)].map((byte) => alphabet[byte % alphabet.length]).join('');
  return `${deployment.metadata.name}-${suffix}`;
}

interface ConditionInput {
  type: string;
  status: 'True' | 'False';
  reason: string;
  message: string;
}

/** Conditions keep lastTransitionTime while their status does not change, as the real controller does. */
function conditions(previous: KubeObject | undefined, inputs: ConditionInput[]): KubeObject[] {
  const time = now();
  return inputs.map((input) => {
    const old = (previous?.conditions ?? []).find((c: KubeObject) => c.type === input.type);
    return {
      ...input,
      lastUpdateTime: time,
      lastTransitionTime: old && old.status === input.status ? old.lastTransitionTime : time,
    };
  });
}

/** Integer status fields are omitempty in the real API: a Deployment at zero replicas has none of them. */
function counts(fields: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== 0));
}

export class DeploymentController {
  private readonly behaviors = new Map<string, RolloutBehavior>();
  private readonly timers = new Map<string, NodeJS.Timeout[]>();

  constructor(
    private readonly store: ObjectStore,
    private readonly deployments: ResourceType,
    private readonly rolloutDelayMs: number,
  ) {
    store.onChange((event) => this.onChange(event));
  }

  private onChange(event: ChangeEvent): void {
    if (event.resource.group !== 'apps' || event.resource.plural !== 'deployments') return;
    const { namespace, name } = event.object.metadata;
    if (event.type === 'DELETED') this.cancel(key(namespace, name));
    else if (event.specChanged) this.start(namespace, name);
  }

  setBehavior(namespace: string, name: string, behavior: RolloutBehavior): void {
    this.behaviors.set(key(namespace, name), behavior);
    const deployment = this.store.get(this.deployments, namespace, name);
    // A rollout already under way follows the new behaviour from now on.
    if (deployment && !this.isComplete(deployment)) this.start(namespace, name);
  }

  /**
   * A seeded Deployment was already running before the test: no rollout starts for it. One
   * seeded without status is reported rolled out now; a seeded status is left as given.
   */
  adoptSeeded(namespace: string, name: string, seededStatus: boolean): void {
    this.cancel(key(namespace, name));
    const deployment = this.store.get(this.deployments, namespace, name);
    if (deployment && !seededStatus) this.store.writeStatus(this.deployments, namespace, name, this.completeStatus(deployment));
  }

  close(): void {
    for (const id of [...this.timers.keys()]) this.cancel(id);
  }

  private isComplete(deployment: KubeObject): boolean {
    const status = deployment.status ?? {};
    const replicas = deployment.spec?.replicas ?? 1;
    return (status.observedGeneration ?? 0) >= deployment.metadata.generation && (status.updatedReplicas ?? 0) === replicas && (status.availableReplicas ?? 0) === replicas;
  }

  private cancel(id: string): void {
    for (const timer of this.timers.get(id) ?? []) clearTimeout(timer);
    this.timers.delete(id);
  }

  private after(id: string, delayMs: number, action: () => void): void {
    const timer = setTimeout(action, delayMs);
    timer.unref();
    this.timers.set(id, [...(this.timers.get(id) ?? []), timer]);
  }

  /** A new generation: the controller notices it on its next loop, like the real one, and not inside the client's write. */
  private start(namespace: string, name: string): void {
    const id = key(namespace, name);
    this.cancel(id);
    const generation = this.store.get(this.deployments, namespace, name)?.metadata.generation;
    const current = (): KubeObject | undefined => {
      const deployment = this.store.get(this.deployments, namespace, name);
      return deployment && deployment.metadata.generation === generation ? deployment : undefined;
    };
    this.after(id, 0, () => {
      const deployment = current();
      if (!deployment) return;
      if ((deployment.spec?.replicas ?? 1) === 0) {
        this.store.writeStatus(this.deployments, namespace, name, this.completeStatus(deployment));
        return;
      }
      this.store.writeStatus(this.deployments, namespace, name, this.progressingStatus(deployment));
      if ((this.behaviors.get(id) ?? 'ready') === 'stuck') {
        const deadlineMs = (deployment.spec?.progressDeadlineSeconds ?? 600) * this.rolloutDelayMs;
        this.after(id, deadlineMs, () => {
          const stuck = current();
          if (stuck) this.store.writeStatus(this.deployments, namespace, name, this.deadlineStatus(stuck));
        });
      } else {
        this.after(id, this.rolloutDelayMs, () => {
          const done = current();
          if (done) this.store.writeStatus(this.deployments, namespace, name, this.completeStatus(done));
        });
      }
    });
  }

  private completeStatus(deployment: KubeObject): KubeObject {
    const replicas = deployment.spec?.replicas ?? 1;
    return {
      observedGeneration: deployment.metadata.generation,
      ...counts({ replicas, updatedReplicas: replicas, readyReplicas: replicas, availableReplicas: replicas }),
      conditions: conditions(deployment.status, [
        { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' },
        {
          type: 'Progressing',
          status: 'True',
          reason: 'NewReplicaSetAvailable',
          message: `ReplicaSet "${replicaSetName(deployment)}" has successfully progressed.`,
        },
      ]),
    };
  }

  private progressingStatus(deployment: KubeObject): KubeObject {
    const replicas = deployment.spec?.replicas ?? 1;
    const available = Math.min(deployment.status?.availableReplicas ?? 0, replicas);
    return {
      observedGeneration: deployment.metadata.generation,
      ...counts({
        replicas,
        updatedReplicas: Math.floor(replicas / 2),
        readyReplicas: available,
        availableReplicas: available,
        unavailableReplicas: replicas - available,
      }),
      conditions: conditions(deployment.status, [
        available > 0
          ? { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' }
          : { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' },
        { type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', message: `ReplicaSet "${replicaSetName(deployment)}" is progressing.` },
      ]),
    };
  }

  private deadlineStatus(deployment: KubeObject): KubeObject {
    const status = deployment.status ?? {};
    return {
      ...status,
      conditions: conditions(status, [
        ...(status.conditions ?? []).filter((c: KubeObject) => c.type !== 'Progressing'),
        {
          type: 'Progressing',
          status: 'False',
          reason: 'ProgressDeadlineExceeded',
          message: `ReplicaSet "${replicaSetName(deployment)}" has timed out progressing.`,
        },
      ]),
    };
  }
}
