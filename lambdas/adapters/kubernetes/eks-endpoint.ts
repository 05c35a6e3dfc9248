// Where an EKS cluster's API server is and which CA signs its certificate: DescribeCluster, asked once per warm container.
import { DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { ConfigurationError, KubernetesTransientError } from '../../core/errors';
import type { ClusterAddress, DiscoveredKubernetesEndpoint } from './client';
import { EksTokenProvider, type AwsCredentialsProvider } from './eks-token';

export interface EksClusterRef {
  /** The cluster's name (FLEDGE_EKS_CLUSTER). */
  readonly cluster: string;
  /** The cluster's region (AWS_REGION). */
  readonly region: string;
}

export interface DescribeEksClusterOptions extends EksClusterRef {
  /** @default - an EKSClient for `region` with the default credential chain, timing out after `timeoutMs` */
  readonly client?: EKSClient;
  /** Time allowed for one DescribeCluster attempt. @default 10000 */
  readonly timeoutMs?: number;
}

/**
 * Module-level, so it outlives the deps of one handler: a warm container asks once per cluster.
 * A failed describe is removed, so the next request asks again.
 */
const addresses = new Map<string, Promise<ClusterAddress>>();

/** Forget every cached cluster address (tests; a cluster recreated under the same name). */
export function clearEksClusterCache(): void {
  addresses.clear();
}

interface AwsSdkError {
  readonly name?: string;
  readonly message?: string;
  readonly $retryable?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

/** After the SDK's own retries, what a later attempt may still fix: throttling, 5xx, no answer at all. */
function mayPass(err: AwsSdkError): boolean {
  const status = err.$metadata?.httpStatusCode;
  return status === undefined || status >= 500 || status === 408 || status === 429 || err.$retryable !== undefined || /Throttl|TooManyRequests/.test(err.name ?? '');
}

/** DescribeCluster's failure as a named error: a refusal that will stand is configuration (no such cluster, no permission); anything else is retried. */
function describeError(err: unknown, { cluster, region }: EksClusterRef): Error {
  const sdkError = (err ?? {}) as AwsSdkError;
  const what = `EKS DescribeCluster for cluster ${cluster} in ${region}`;
  const detail = `${sdkError.name ?? 'Error'}: ${sdkError.message ?? String(err)}`;
  if (sdkError.name === 'ResourceNotFoundException') {
    return new ConfigurationError(`${what}: no such cluster (environment variables FLEDGE_EKS_CLUSTER and AWS_REGION)`);
  }
  if (mayPass(sdkError)) return new KubernetesTransientError(`${what} failed: ${detail}`);
  return new ConfigurationError(`${what} was refused: ${detail}`);
}

async function describe(options: DescribeEksClusterOptions): Promise<ClusterAddress> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const client = options.client ?? new EKSClient({ region: options.region, requestHandler: { requestTimeout: timeoutMs, connectionTimeout: timeoutMs } });
  let answer;
  try {
    answer = await client.send(new DescribeClusterCommand({ name: options.cluster }));
  } catch (err) {
    throw describeError(err, options);
  }
  const { endpoint, certificateAuthority, status } = answer.cluster ?? {};
  if (!endpoint || !certificateAuthority?.data) {
    // A cluster still CREATING has neither yet.
    throw new KubernetesTransientError(`EKS cluster ${options.cluster} in ${options.region} has no API endpoint or certificate authority yet (status ${status ?? 'unknown'})`);
  }
  return { server: endpoint.replace(/\/+$/, ''), caData: certificateAuthority.data };
}

/** The cluster's API server URL and CA bundle (base64 PEM), from DescribeCluster, cached per cluster and region. */
export function describeEksCluster(options: DescribeEksClusterOptions): Promise<ClusterAddress> {
  const key = `${options.region}/${options.cluster}`;
  let address = addresses.get(key);
  if (!address) {
    address = describe(options);
    addresses.set(key, address);
    address.catch(() => {
      if (addresses.get(key) === address) addresses.delete(key);
    });
  }
  return address;
}

export interface EksEndpointOptions extends EksClusterRef {
  /** Per-request timeout for the Kubernetes API, and for DescribeCluster. @default 10000 */
  readonly timeoutMs?: number;
  /** @default - an EKSClient for `region` */
  readonly eksClient?: EKSClient;
  /** Credentials that sign the token. @default - the default credential chain */
  readonly credentials?: AwsCredentialsProvider;
  /** Clock for the token's signing time and age. @default - the system clock */
  readonly now?: () => Date;
  /** @default 10 minutes */
  readonly tokenRefreshAfterMs?: number;
}

/**
 * A Kubernetes endpoint for an EKS cluster: the server and CA are found by DescribeCluster on the
 * first request (buildDeps is synchronous; DescribeCluster is not), and every request carries a
 * current token from one EksTokenProvider.
 */
export function eksKubernetesEndpoint(options: EksEndpointOptions): DiscoveredKubernetesEndpoint {
  const tokens = new EksTokenProvider({
    cluster: options.cluster,
    region: options.region,
    credentials: options.credentials,
    now: options.now,
    refreshAfterMs: options.tokenRefreshAfterMs,
  });
  return {
    discover: () => describeEksCluster({ cluster: options.cluster, region: options.region, client: options.eksClient, timeoutMs: options.timeoutMs }),
    tokenProvider: () => tokens.token(),
    timeoutMs: options.timeoutMs,
  };
}
