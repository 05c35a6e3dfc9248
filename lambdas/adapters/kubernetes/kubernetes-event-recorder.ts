// Kubernetes Events on the target Deployment, so that `kubectl describe deployment` shows what Fledge did and why.
import { randomBytes } from 'node:crypto';
import { AppsV1Api, CoreV1Api, type CoreV1Event, type KubeConfig } from '@kubernetes/client-node';
import type { RolloutTarget } from '../../ports/target';
import type { EventRecorder } from '../../ports/workloads';
import { kubernetesError, statusCodeOf } from './client';

export const EVENT_COMPONENT = 'fledge';

export interface KubernetesEventRecorderOptions {
  /** Clock for the event timestamps. @default - the system clock */
  readonly now?: () => Date;
}

export class KubernetesEventRecorder implements EventRecorder {
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;
  private readonly now: () => Date;

  constructor(kubeConfig: KubeConfig, options: KubernetesEventRecorderOptions = {}) {
    this.apps = kubeConfig.makeApiClient(AppsV1Api);
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.now = options.now ?? (() => new Date());
  }

  async record(target: RolloutTarget, event: { type: 'Normal' | 'Warning'; reason: string; message: string }): Promise<void> {
    const { namespace, deployment } = target;
    // kubectl describe matches events to the object by uid as well as name: look it up.
    let uid: string | undefined;
    try {
      uid = (await this.apps.readNamespacedDeployment({ name: deployment, namespace })).metadata?.uid;
    } catch (err) {
      // An event about a Deployment that is gone (say, the rollback after it was deleted) is still worth recording by name.
      if (statusCodeOf(err) !== 404) throw kubernetesError(err, `read Deployment ${namespace}/${deployment} for an event`);
    }
    const time = this.now();
    const body: CoreV1Event = {
      apiVersion: 'v1',
      kind: 'Event',
      // The name kubectl and client-go use: the object's name and a unique hex suffix.
      metadata: { name: `${deployment}.${randomBytes(8).toString('hex')}`, namespace },
      involvedObject: { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment, namespace, ...(uid ? { uid } : {}) },
      type: event.type,
      reason: event.reason,
      message: event.message,
      source: { component: EVENT_COMPONENT },
      reportingComponent: EVENT_COMPONENT,
      reportingInstance: EVENT_COMPONENT,
      firstTimestamp: time,
      lastTimestamp: time,
      count: 1,
    };
    try {
      await this.core.createNamespacedEvent({ namespace, body });
    } catch (err) {
      throw kubernetesError(err, `record event ${event.reason} on Deployment ${namespace}/${deployment}`);
    }
  }
}
