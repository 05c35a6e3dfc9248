// Port: the Kubernetes workload operations a rollout needs (Deployments, the canary Service, Events).
import type { RolloutTarget } from './target';

/** What Fledge needs to know of a Deployment's rollout, read from its status. */
export interface RolloutProgress {
  /** The controller has seen the latest spec and every replica is updated and available. */
  readonly complete: boolean;
  /** Deployment condition Progressing=False with reason ProgressDeadlineExceeded. */
  readonly deadlineExceeded: boolean;
  readonly replicas: number;
  readonly updatedReplicas: number;
  readonly availableReplicas: number;
  /** Image of the container Fledge manages, as the spec has it now. */
  readonly image: string;
}

export interface CanaryWorkloadRequest {
  readonly target: RolloutTarget;
  /** Container in the pod template that gets the new image. */
  readonly container: string;
  /** Full image reference, pinned by digest (`<registry>/<repo>@sha256:…`). */
  readonly image: string;
  /** Replicas for the canary; the stable Deployment's replicas when undefined. */
  readonly replicas?: number;
}

export interface Workloads {
  /** Throws TargetNotFoundError when the Service does not exist. */
  assertServiceExists(namespace: string, service: string): Promise<void>;
  /** The stable Deployment's container images by container name; throws TargetNotFoundError when missing. */
  getContainerImages(namespace: string, deployment: string): Promise<Record<string, string>>;
  /**
   * Create or update `<name>-canary` from the stable Deployment with the new image, with pod
   * labels the stable Service cannot select, and the canary Service selecting only those pods.
   */
  ensureCanary(request: CanaryWorkloadRequest): Promise<void>;
  /** Rollout progress of a Deployment; throws TargetNotFoundError when missing. */
  getRolloutProgress(namespace: string, deployment: string, container: string): Promise<RolloutProgress>;
  /** Set one container's image on a Deployment (promotion). */
  setImage(namespace: string, deployment: string, container: string, image: string): Promise<void>;
  /** Scale a Deployment; a missing Deployment is already at zero and is not an error. */
  scale(namespace: string, deployment: string, replicas: number): Promise<void>;
  /** Write the Fledge status annotation on a Deployment (a JSON string). */
  annotateStatus(namespace: string, deployment: string, status: string): Promise<void>;
}

export interface EventRecorder {
  /** A Kubernetes Event on the target Deployment, as `kubectl describe` shows it. */
  record(target: RolloutTarget, event: { type: 'Normal' | 'Warning'; reason: string; message: string }): Promise<void>;
}
