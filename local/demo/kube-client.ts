// Kubernetes clients for the demo world: the real @kubernetes/client-node pointed at the local API emulator.
import { KubeConfig } from '@kubernetes/client-node';

/** A kubeconfig with one cluster at `url` and an anonymous user, as the emulator needs no auth. */
export function kubeConfigForUrl(url: string): KubeConfig {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'local', server: url, skipTLSVerify: true }],
    users: [{ name: 'local' }],
    contexts: [{ name: 'local', cluster: 'local', user: 'local' }],
    currentContext: 'local',
  });
  return config;
}

/** True when the client error is the API server's 404 (the object does not exist). */
export function isNotFound(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 404;
}
