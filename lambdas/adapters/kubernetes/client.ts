// Kubernetes client plumbing: a KubeConfig built in code (no kubeconfig file, no CLI) for a fixed or a discovered (EKS) endpoint, and client errors translated into Fledge's named errors.
import { ApiException, KubeConfig, setHeaderOptions, type Cluster, type PatchStrategy, type RequestContext } from '@kubernetes/client-node';
import { KubernetesRequestError, KubernetesTransientError, TargetNotFoundError } from '../../core/errors';

export interface KubernetesEndpoint {
  /** API server URL, `https://….eks.amazonaws.com` (or `http://127.0.0.1:port` for the local emulator). */
  readonly server: string;
  /** A fixed bearer token. */
  readonly token?: string;
  /** Asked for the bearer token before every request, for tokens that expire (EKS). Takes precedence over `token`. */
  readonly tokenProvider?: () => Promise<string>;
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

/** An API server and the CA its certificate is verified against. */
export interface ClusterAddress {
  readonly server: string;
  /** Base64-encoded PEM. @default - the system's trusted CAs */
  readonly caData?: string;
}

/** An endpoint found on the first request rather than known up front: an EKS cluster's, from DescribeCluster. */
export interface DiscoveredKubernetesEndpoint {
  /** Finds the server and CA. Called before the first request, and again before the next one if it failed. */
  readonly discover: () => Promise<ClusterAddress>;
  /** Asked for the bearer token before every request. */
  readonly tokenProvider?: () => Promise<string>;
  /** @default 10000 */
  readonly timeoutMs?: number;
}

/** Per-request timeout when the endpoint sets none: well inside a Task's 120 s, well above a healthy API server's answer. */
export const DEFAULT_KUBE_TIMEOUT_MS = 10_000;

const CLUSTER_NAME = 'fledge-target';

/**
 * The server API clients of a discovered endpoint are made with, before the real one is known;
 * each request's URL is rewritten to the real server. `.invalid` never resolves (RFC 6761): if a
 * request ever left unrewritten, it would fail to connect rather than carry a token elsewhere.
 */
export const UNDISCOVERED_SERVER = 'https://kubernetes.undiscovered.fledge.invalid';

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
 * client-node refuses `http:` servers unless skipTLSVerify is set; for a loopback `http:` server
 * (the local emulator, where there is no TLS to verify) it is set here, anywhere else plain HTTP
 * stays refused. An `https:` server is verified against `caData`, or the system CAs without it.
 */
function clusterFor(address: ClusterAddress & { skipTLSVerify?: boolean }) {
  return {
    name: CLUSTER_NAME,
    server: address.server,
    skipTLSVerify: address.skipTLSVerify ?? isLoopbackHttp(address.server),
    ...(address.caData ? { caData: address.caData } : {}),
  };
}

/**
 * The KubeConfig Fledge's adapters use. Every API client made from a KubeConfig asks it to
 * authenticate each request (`applySecurityAuthentication`, with the request's RequestContext):
 * the one per-request hook shared by all of them, patch options included. Three things happen there:
 *
 * - a discovered endpoint is resolved (once) and the request's URL pointed at it;
 * - the bearer token is taken from the token provider, so a refreshed token is used at once;
 * - the timeout: client-node 1.x sets none, and an API server that accepts the connection and never
 *   answers would hold the call until the Lambda itself times out. The abort signal is set last,
 *   so only the HTTP exchange is timed; node-fetch honours it through connect, headers and body.
 */
export class FledgeKubeConfig extends KubeConfig {
  private discovering?: Promise<void>;
  private discovered = false;

  constructor(
    private readonly requestTimeoutMs: number,
    private readonly tokenProvider?: () => Promise<string>,
    private readonly discover?: () => Promise<ClusterAddress>,
  ) {
    super();
  }

  /** The cluster requests go to; for a discovered endpoint, found first (the first call does the discovery). */
  async resolveCluster(): Promise<Cluster> {
    if (this.discover && !this.discovered) {
      this.discovering ??= this.discover()
        .then((address) => {
          this.clusters = [clusterFor(address)];
          this.discovered = true;
        })
        .finally(() => {
          this.discovering = undefined;
        });
      await this.discovering;
    }
    return this.getCurrentCluster()!;
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    if (this.discover) {
      const { server } = await this.resolveCluster();
      const url = context.getUrl();
      if (url.startsWith(UNDISCOVERED_SERVER)) context.setUrl(server.replace(/\/+$/, '') + url.slice(UNDISCOVERED_SERVER.length));
    }
    // The CA and TLS options of the (now current) cluster go into the request's agent here.
    await super.applySecurityAuthentication(context);
    if (this.tokenProvider) context.setHeaderParam('Authorization', `Bearer ${await this.tokenProvider()}`);
    const controller = new AbortController();
    // Unref'd: a pending timer must not keep a finished Lambda invocation (or a test run) alive.
    setTimeout(() => controller.abort(), this.requestTimeoutMs).unref();
    context.setSignal(controller.signal);
  }
}

/**
 * A KubeConfig for one cluster, built in code (no kubeconfig file, no CLI): a fixed server, or
 * one discovered on the first request (an EKS cluster), with a fixed or refreshed bearer token.
 */
export function kubeConfigFor(endpoint: KubernetesEndpoint | DiscoveredKubernetesEndpoint): FledgeKubeConfig {
  const timeoutMs = endpoint.timeoutMs ?? DEFAULT_KUBE_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    throw new RangeError(`Kubernetes request timeout: expected a positive whole number of milliseconds, got ${timeoutMs}`);
  }
  const discovered = 'discover' in endpoint;
  const kc = new FledgeKubeConfig(timeoutMs, endpoint.tokenProvider, discovered ? endpoint.discover : undefined);
  const fixedToken = discovered || endpoint.tokenProvider ? undefined : endpoint.token;
  kc.loadFromOptions({
    clusters: [discovered ? clusterFor({ server: UNDISCOVERED_SERVER }) : clusterFor(endpoint)],
    users: [{ name: 'fledge', ...(fixedToken ? { token: fixedToken } : {}) }],
    contexts: [{ name: 'fledge', cluster: CLUSTER_NAME, user: 'fledge' }],
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

/** What a 401 means for Fledge. The token itself never goes into a message. */
const UNAUTHORIZED_HINT = "the API server did not accept Fledge's bearer token; on EKS, the function's IAM role needs an access entry on the cluster";

/** OpenSSL's and Node's codes for a certificate that does not verify. */
const TLS_VERIFICATION_CODES = /^(UNABLE_TO_(GET_ISSUER_CERT|GET_ISSUER_CERT_LOCALLY|VERIFY_LEAF_SIGNATURE|DECRYPT_CERT_SIGNATURE)|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|CERT_[A-Z_]+|ERR_TLS_CERT_ALTNAME_INVALID)$/;

/**
 * The code of a TLS verification failure, or undefined. Not a connection error: the server answered,
 * with a certificate the cluster CA did not sign (or an expired one), and a retry gets the same one.
 */
function tlsVerificationCode(err: unknown): string | undefined {
  const { code } = (err ?? {}) as { code?: unknown };
  return typeof code === 'string' && TLS_VERIFICATION_CODES.test(code) ? code : undefined;
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
    // client-node drops the body of a 401 (a documented response), so the status may come bare.
    if (code === 401) return new KubernetesRequestError(`${what} failed: ${status.reason ? detail : '401 Unauthorized'} (${UNAUTHORIZED_HINT})`);
    return new KubernetesRequestError(`${what} failed: ${detail}`);
  }
  // Nothing but the request timeout aborts a request (node-fetch's AbortError does not say why it was aborted).
  if (err instanceof Error && err.name === 'AbortError') {
    return new KubernetesTransientError(`${what} failed: no answer from the API server within the request timeout`);
  }
  const tlsCode = tlsVerificationCode(err);
  if (tlsCode !== undefined) {
    return new KubernetesRequestError(`${what} failed: the API server's TLS certificate did not verify against the cluster CA (${tlsCode}: ${(err as Error).message})`);
  }
  if (isConnectionError(err)) {
    const { code: systemCode } = err as { code?: unknown };
    return new KubernetesTransientError(`${what} failed: no answer from the API server (${typeof systemCode === 'string' ? `${systemCode}: ` : ''}${(err as Error).message})`);
  }
  return err instanceof Error ? err : new Error(`${what} failed: ${String(err)}`);
}
