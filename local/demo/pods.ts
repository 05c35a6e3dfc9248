// A tiny kubelet for the demo: one running demo-app server per available Deployment in the emulator.
import { createHash, randomInt } from 'node:crypto';
import { AppsV1Api } from '@kubernetes/client-node';
import type { V1Deployment } from '@kubernetes/client-node';
import { startApp } from './app';
import type { AppServer, Behavior } from './app';
import { kubeConfigForUrl } from './kube-client';
import { startPoller } from './poller';

export interface Pod {
  readonly name: string;
  readonly namespace: string;
  readonly deployment: string;
  /** The Deployment's pod template labels, which Services select on. */
  readonly labels: Readonly<Record<string, string>>;
  /** Where the pod's app server listens; `${url}/metrics` is its scrape target. */
  readonly url: string;
  readonly image: string;
  readonly behavior: Behavior;
}

export type PodsListener = (pods: readonly Pod[]) => void;

export interface PodsOptions {
  /** Base URL of the Kubernetes API (the emulator). */
  readonly kubeUrl: string;
  /** Namespace whose Deployments get pods. */
  readonly namespace: string;
  /** Which build an image is: decides how its pod answers. */
  readonly behaviorForImage: (image: string) => Behavior;
  /** @default 150 */
  readonly pollMs?: number;
  /** Called after every change of the pod set (the Prometheus file_sd targets are refreshed from it). */
  readonly onChange?: PodsListener;
}

export interface Kubelet {
  /** Running pods, in start order. */
  pods(): readonly Pod[];
  /** Subscribe to pod set changes; returns the unsubscribe function. */
  onChange(listener: PodsListener): () => void;
  /** Poll the API now and apply what it says; resolves once the pods match it. */
  sync(): Promise<void>;
  /** The last error polling the API, if the last pass failed. */
  lastError(): unknown;
  close(): Promise<void>;
}

interface RunningPod {
  readonly pod: Pod;
  readonly templateHash: string;
  readonly server: AppServer;
}

// Kubernetes's random-suffix alphabet: no vowels (no words) and no look-alike characters.
const SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/**
 * Start polling Deployments in `namespace` and keep one pod per Deployment that wants replicas
 * and has one available. A template change (new image) replaces the pod once the controller
 * reports the rollout done; scaling to zero or deleting the Deployment stops it.
 */
export async function startPods(options: PodsOptions): Promise<Kubelet> {
  const { namespace, behaviorForImage } = options;
  const apps = kubeConfigForUrl(options.kubeUrl).makeApiClient(AppsV1Api);
  const running = new Map<string, RunningPod>();
  const listeners = new Set<PodsListener>();
  const terminating = new Set<AppServer>();
  if (options.onChange) listeners.add(options.onChange);
  let closed = false;
  let lastError: unknown;

  const snapshot = (): readonly Pod[] => [...running.values()].map((entry) => entry.pod);
  const notify = (): void => {
    const pods = snapshot();
    for (const listener of listeners) listener(pods);
  };

  const startPod = async (deployment: V1Deployment, templateHash: string): Promise<RunningPod> => {
    const deploymentName = deployment.metadata?.name ?? '';
    const template = deployment.spec?.template;
    const image = template?.spec?.containers?.[0]?.image ?? '';
    const behavior = behaviorForImage(image);
    const name = `${deploymentName}-${templateHash}-${randomSuffix()}`;
    const server = await startApp({ behavior, name, image });
    const pod: Pod = {
      name,
      namespace,
      deployment: deploymentName,
      labels: { ...(template?.metadata?.labels ?? {}) },
      url: server.url,
      image,
      behavior,
    };
    return { pod, templateHash, server };
  };

  const reconcile = async (): Promise<void> => {
    const list = await apps.listNamespacedDeployment({ namespace });
    if (closed) return;
    const wanted = new Map<string, V1Deployment>();
    for (const deployment of list.items) {
      const name = deployment.metadata?.name;
      if (name && wantsPod(deployment)) wanted.set(name, deployment);
    }
    const stopping: RunningPod[] = [];
    let changed = false;
    for (const [name, entry] of running) {
      if (!wanted.has(name)) {
        running.delete(name);
        stopping.push(entry);
        changed = true;
      }
    }
    for (const [name, deployment] of wanted) {
      const templateHash = hashTemplate(deployment);
      const current = running.get(name);
      if (current?.templateHash === templateHash) continue;
      // The old pod serves until the controller reports the new template rolled out, so a stuck
      // rollout keeps the old version answering, as maxUnavailable does in a real cluster.
      if (current && !rolledOut(deployment)) continue;
      // Surge before stopping the old pod, as a rolling update does, so the Service never has a gap.
      const replacement = await startPod(deployment, templateHash);
      if (closed) {
        await Promise.all([replacement, ...stopping].map((entry) => entry.server.close({ force: true })));
        return;
      }
      running.set(name, replacement);
      if (current) stopping.push(current);
      changed = true;
    }
    if (changed) notify();
    // Old pods finish what they are answering, like a pod's termination grace period, without
    // holding up the loop: a slow pod's last answers must not delay the next Deployment change.
    for (const { server } of stopping) {
      terminating.add(server);
      void server.close().finally(() => terminating.delete(server));
    }
  };

  const poller = startPoller(
    async () => {
      await reconcile();
      lastError = undefined;
    },
    options.pollMs ?? 150,
    (error) => {
      lastError = error;
    },
  );
  await poller.tick();

  return {
    pods: snapshot,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    sync: poller.tick,
    lastError: () => lastError,
    async close() {
      closed = true;
      // Listeners (file_sd writers) may be closing too: a closed kubelet tells no one anything.
      listeners.clear();
      await poller.stop();
      const servers = [...[...running.values()].map((entry) => entry.server), ...terminating];
      running.clear();
      await Promise.all(servers.map((server) => server.close({ force: true })));
    },
  };
}

/** A Deployment runs a pod once it wants replicas and the controller reports one available. */
function wantsPod(deployment: V1Deployment): boolean {
  return (deployment.spec?.replicas ?? 1) > 0 && (deployment.status?.availableReplicas ?? 0) > 0;
}

/** The controller has seen the latest spec and every replica runs the latest template. */
function rolledOut(deployment: V1Deployment): boolean {
  const replicas = deployment.spec?.replicas ?? 1;
  const status = deployment.status;
  // Integer status fields are omitempty: an absent updatedReplicas is zero.
  return (status?.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 0) && (status?.updatedReplicas ?? 0) >= replicas;
}

/**
 * Ten hex characters of the pod template, like the pod-template-hash in a ReplicaSet's name:
 * any template change (image, labels) makes a new pod, as a rolling update does.
 */
export function hashTemplate(deployment: V1Deployment): string {
  return createHash('sha256').update(stableJson(deployment.spec?.template ?? {})).digest('hex').slice(0, 10);
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function randomSuffix(): string {
  let suffix = '';
  for (let i = 0; i < 5; i++) suffix += SUFFIX_ALPHABET[randomInt(SUFFIX_ALPHABET.length)];
  return suffix;
}
