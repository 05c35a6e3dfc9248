// Kubernetes client plumbing: a KubeConfig built from an endpoint (no kubeconfig file, no CLI) and client errors translated into Fledge's named errors.
import { ApiException, KubeConfig, setHeaderOptions, type PatchStrategy, type RequestContext } from '@kubernetes/client-node';
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
  /**
   * How long one request may take, from sending it to the last byte of the answer, before it is
   * abandoned and reported as a KubernetesTransientError (which the state machine retries).
   * @default 10000
   */
  readonly timeoutMs?: number;
}

/** Per-request timeout when the endpoint sets none: well inside a Task's 120 s, well above a healthy API server's answer. */
export const DEFAULT_KUBE_TIMEOUT_MS = 10_000;

/**
 * client-node 1.x sets no timeout: an API server that accepts the connection and never answers
 * holds the call until the Lambda itself times out. Every API client made from a KubeConfig
 * asks it to authenticate each request (`applySecurityAuthentication`, with the request's
 * RequestContext), which is the one per-request hook shared by all of them, patch options
 * included; the abort signal is set there, after authentication, so only the HTTP exchange
 * is timed. node-fetch honours the signal through connect, headers and body.
 */
class TimeoutKubeConfig extends KubeConfig {
  constructor(private readonly requestTimeoutMs: number) {
    super();
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const controller = new AbortController();
    // Unref'd: a pending timer must not keep a finished Lambda invocation (or a test run) alive.
    setTimeout(() => controller.abort(), this.requestTimeoutMs).unref();
    context.setSignal(controller.signal);
  }
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
  const timeoutMs = endpoint.timeoutMs ?? DEFAULT_KUBE_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    throw new RangeError(`Kubernetes request timeout: expected a positive whole number of milliseconds, got ${timeoutMs}`);
  }
  const kc = new TimeoutKubeConfig(timeoutMs);
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
  // node-fetch: type 'system' for socket errors, 'request-timeout' / 'body-timeout' for timeouts.
  return type === 'system' || type === 'request-timeout' || type === 'body-timeout' || /socket hang up/i.test(err.message);
}

export interface KubernetesErrorOptions {
  /** Message for a 404, naming the object: `Deployment prod/web not found`. @default - `<what>: not found` */
  readonly notFound?: string;
}

/**
 * Translate a client-node failure into a named error. `what` says what was being done
 * (`read Deployment prod/web`): it leads every message, followed by the status.
 * 404 → TargetNotFoundError; 408, 409, 429, 5xx, request timeouts and connection failures →
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
  // Nothing but the request timeout aborts a request (node-fetch's AbortError does not say why it was aborted).
  if (err instanceof Error && err.name === 'AbortError') {
    return new KubernetesTransientError(`${what} failed: no answer from the API server within the request timeout`);
  }
  if (isConnectionError(err)) {
    const { code: systemCode } = err as { code?: unknown };
    return new KubernetesTransientError(`${what} failed: no answer from the API server (${typeof systemCode === 'string' ? `${systemCode}: ` : ''}${(err as Error).message})`);
  }
  return err instanceof Error ? err : new Error(`${what} failed: ${String(err)}`);
}
