// Kubernetes API emulator: an HTTP server the real @kubernetes/client-node talks to unchanged, for the local runner and the tests.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DeploymentController, type RolloutBehavior } from './deployment-controller';
import { FaultInjector } from './faults';
import { createRequestListener, type RequestRecord } from './server';
import { ObjectStore, ResourceRegistry, type KubeObject } from './store';

export type { Fault, FaultSpec } from './faults';
export type { FaultInjector } from './faults';
export type { RolloutBehavior } from './deployment-controller';
export type { RequestRecord } from './server';
export type { KubeObject } from './store';

export interface KubeEmulatorOptions {
  /** Port to listen on. @default 0 - any free port */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** How long a simulated Deployment rollout takes; progressDeadlineSeconds is scaled by the same factor (1 s → rolloutDelayMs). @default 200 */
  readonly rolloutDelayMs?: number;
  /** When set, requests without `Authorization: Bearer <token>` get a 401 Status. @default - no authentication */
  readonly bearerToken?: string;
}

export interface KubeEmulator {
  /** Base URL for a KubeConfig cluster `server`, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  close(): Promise<void>;
  /** Store objects as if they already existed (apiVersion, kind, metadata.name; namespace defaults to `default`). Deployments without status are reported rolled out. */
  seed(objects: object[]): void;
  /** The stored object (a copy), or undefined. */
  get(apiVersion: string, kind: string, namespace: string, name: string): any | undefined;
  /** Stored objects of a kind (copies), in one namespace or in all when namespace is undefined. */
  list(apiVersion: string, kind: string, namespace?: string): any[];
  /** Every request received, in order. Tests may clear it with `requests.length = 0`. */
  readonly requests: RequestRecord[];
  readonly faults: FaultInjector;
  /** 'stuck': rollouts of this Deployment never complete and hit ProgressDeadlineExceeded. @default 'ready' */
  setRolloutBehavior(namespace: string, deployment: string, behavior: RolloutBehavior): void;
}

export async function startKubeEmulator(opts: KubeEmulatorOptions = {}): Promise<KubeEmulator> {
  const registry = new ResourceRegistry();
  const store = new ObjectStore(registry);
  const deployments = registry.byPath('apps', 'v1', 'deployments')!;
  const controller = new DeploymentController(store, deployments, opts.rolloutDelayMs ?? 200);
  const faults = new FaultInjector();
  const requests: RequestRecord[] = [];
  const server = createServer(createRequestListener({ store, registry, faults, controller, requests, bearerToken: opts.bearerToken }));

  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://${host}:${port}`,
    requests,
    faults,
    async close() {
      controller.close();
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
    seed(objects) {
      for (const raw of objects as KubeObject[]) {
        if (!raw?.apiVersion || !raw?.kind) throw new Error(`seed: object without apiVersion/kind: ${JSON.stringify(raw)}`);
        const type = registry.ensureKind(raw.apiVersion, raw.kind);
        const namespace = type.namespaced ? (raw.metadata?.namespace ?? 'default') : '';
        const created = store.create(type, namespace, raw, { keepStatus: true });
        if (type === deployments) controller.adoptSeeded(namespace, created.metadata.name, raw.status !== undefined);
      }
    },
    get(apiVersion, kind, namespace, name) {
      const type = registry.byKind(apiVersion, kind);
      return type ? store.get(type, type.namespaced ? namespace : '', name) : undefined;
    },
    list(apiVersion, kind, namespace) {
      const type = registry.byKind(apiVersion, kind);
      return type ? store.list(type, type.namespaced ? namespace : '') : [];
    },
    setRolloutBehavior(namespace, deployment, behavior) {
      controller.setBehavior(namespace, deployment, behavior);
    },
  };
}
