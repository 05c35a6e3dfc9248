// Kubernetes client plumbing: a KubeConfig built from an endpoint (no kubeconfig file, no CLI) and client errors translated into Fledge's named errors.
import { ApiException, KubeConfig, setHeaderOptions, type PatchStrategy } from '@kubernetes/client-node';
import { KubernetesRequestError, KubernetesTransientError, TargetNotFoundError } from '../../core/errors';

export interface KubernetesEndpoint {
  /** API server URL, `https://….eks.amazonaws.com` (or `http://127.0.0.1:port` for the local emulator). */
  readonly server: string;
  /** Bearer token (for EKS, a presigned STS token). */
  readonly token?: string;
  /** Cluster CA bundle, base64-encoded PEM as EKS DescribeCluster returns it. */
  readonly caData?: string;
  /** Skip TLS verification; only for local testing. @default false */
  readonly skipTLSVerify?: boolean;
}

/** Plain HTTP to this machine: the local Kubernetes API emulator. */
function isLoopbackHttp(server: string): boolean {
  try {
    const url = new URL(server);
    return url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  } catch {
    return false;
  }
}

/**
 * A KubeConfig for one cluster and a bearer token. client-node refuses `http:` servers unless
 * skipTLSVerify is set; for a loopback `http:` server (the local emulator, where there is no
 * TLS to verify) it is set here, anywhere else plain HTTP stays refused.
 */
export function kubeConfigFor(endpoint: KubernetesEndpoint): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: 'fledge-target',
        server: endpoint.server,
        skipTLSVerify: endpoint.skipTLSVerify ?? isLoopbackHttp(endpoint.server),
        ...(endpoint.caData ? { caData: endpoint.caData } : {}),
      },
    ],
    users: [{ name: 'fledge', ...(endpoint.token ? { token: endpoint.token } : {}) }],
    contexts: [{ name: 'fledge', cluster: 'fledge-target', user: 'fledge' }],
    currentContext: 'fledge',
  });
  return kc;
}

/**
 * Per-call options choosing a patch's Content-Type. client-node 1.x patch methods list every
 * patch type and pick the first JSON-like one, application/json-patch+json, unless a call
 * overrides the header: `api.patchX({ name, namespace, body }, patchAs(PatchStrategy.MergePatch))`.
 */
export const patchAs = (strategy: PatchStrategy) => setHeaderOptions('Content-Type', strategy);

/** The HTTP status of a failed client-node call, or undefined for a connection-level failure. */
export function statusCodeOf(err: unknown): number | undefined {
  return err instanceof ApiException && typeof err.code === 'number' ? err.code : undefined;
}

interface StatusSummary {
  reason?: string;
  message?: string;
}

/** client-node 1.x carries the error response's raw text in `body`: usually a metav1.Status. */
function statusOf(err: ApiException<unknown>): StatusSummary {
  const body = err.body;
  if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as StatusSummary;
      return { reason: parsed.reason, message: parsed.message };
    } catch {
      return { message: body.slice(0, 300) };
    }
  }
  if (body && typeof body === 'object') return body as StatusSummary;
  return {};
}

const CONNECTION_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND', 'UND_ERR_SOCKET']);

function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const { code, type } = err as { code?: unknown; type?: unknown };
  if (typeof code === 'string' && CONNECTION_ERRORS.has(code)) return true;
  // node-fetch: type 'system' for socket errors, 'request-timeout' / 'body-timeout' for timeouts; AbortError for aborted requests.
  return type === 'system' || type === 'request-timeout' || type === 'body-timeout' || err.name === 'AbortError' || /socket hang up/i.test(err.message);
}

export interface KubernetesErrorOptions {
  /** Message for a 404, naming the object: `Deployment prod/web not found`. @default - `<what>: not found` */
  readonly notFound?: string;
}

/**
 * Translate a client-node failure into a named error. `what` says what was being done
 * (`read Deployment prod/web`): it leads every message, followed by the status.
 * 404 → TargetNotFoundError; 408, 409, 429, 5xx and connection failures →
 * KubernetesTransientError (a 409 reaching here means retries ran out); other 4xx →
 * KubernetesRequestError. Errors that are already named, or not from the client, pass through.
 */
export function kubernetesError(err: unknown, what: string, options: KubernetesErrorOptions = {}): Error {
  if (err instanceof TargetNotFoundError || err instanceof KubernetesTransientError || err instanceof KubernetesRequestError) return err;
  const code = statusCodeOf(err);
  if (code !== undefined) {
    const status = statusOf(err as ApiException<unknown>);
    const detail = `${code}${status.reason ? ` ${status.reason}` : ''}${status.message ? `: ${status.message}` : ''}`;
    if (code === 404) return new TargetNotFoundError(options.notFound ? `${options.notFound} (${what}: ${detail})` : `${what}: not found (${detail})`);
    if (code === 408 || code === 409 || code === 429 || code >= 500) return new KubernetesTransientError(`${what} failed: ${detail}`);
    return new KubernetesRequestError(`${what} failed: ${detail}`);
  }
  if (isConnectionError(err)) {
    const { code: systemCode } = err as { code?: unknown };
    return new KubernetesTransientError(`${what} failed: no answer from the API server (${typeof systemCode === 'string' ? `${systemCode}: ` : ''}${(err as Error).message})`);
  }
  return err instanceof Error ? err : new Error(`${what} failed: ${String(err)}`);
}
