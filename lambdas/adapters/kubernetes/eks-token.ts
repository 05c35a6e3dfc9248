// EKS bearer tokens: a SigV4-presigned STS GetCallerIdentity URL naming the cluster, made as `aws eks get-token` makes it, refreshed before EKS stops accepting it.
import { Sha256 } from '@aws-crypto/sha256-js';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { ConfigurationError } from '../../core/errors';

import type { AwsCredentials, AwsCredentialsProvider } from '../aws-credentials';

export type { AwsCredentials, AwsCredentialsProvider };

/** What every EKS token starts with: the version of the token format the cluster's authenticator reads. */
export const EKS_TOKEN_PREFIX = 'k8s-aws-v1.';

/** The header, signed into the URL, that binds a token to one cluster: a token for cluster A is refused by cluster B. */
export const CLUSTER_ID_HEADER = 'x-k8s-aws-id';

/** Lifetime of the presigned URL itself, as `aws eks get-token` sets it; EKS ignores it and accepts the token for 15 minutes from X-Amz-Date. */
export const PRESIGNED_URL_EXPIRES_SECONDS = 60;

/**
 * Age after which a cached token is replaced. EKS accepts a token for 15 minutes after it was
 * signed (client-go refreshes at 14); 10 leaves room for a clock a little off and for a request
 * that starts just before the refresh and is still in flight.
 */
export const DEFAULT_TOKEN_REFRESH_AFTER_MS = 10 * 60_000;

/** A token is also replaced this long before its credentials expire: a session token that lapses takes every token signed with it along. */
const CREDENTIALS_EXPIRY_MARGIN_MS = 60_000;

export interface EksTokenRequest {
  /** The cluster's name, signed in as x-k8s-aws-id. */
  readonly cluster: string;
  /** The cluster's region: the STS endpoint and the signing scope. */
  readonly region: string;
  readonly credentials: AwsCredentials;
  /** Signing time. @default - now */
  readonly signingDate?: Date;
}

/** The regional STS host the token is presigned for (the cluster's authenticator only accepts STS hosts). */
export function stsHostFor(region: string): string {
  // China regions are in the aws-cn partition, under amazonaws.com.cn.
  return region.startsWith('cn-') ? `sts.${region}.amazonaws.com.cn` : `sts.${region}.amazonaws.com`;
}

/** RFC 3986 escaping, the escaping SigV4 signs; encodeURIComponent leaves !'()* alone. */
function escape(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The query in the order botocore writes it, so the token is byte for byte what `aws eks get-token` gives for the same credentials and time. */
const QUERY_ORDER = [
  'Action',
  'Version',
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-SignedHeaders',
  'X-Amz-Security-Token',
  'X-Amz-Signature',
];

/**
 * One EKS token: `k8s-aws-v1.` and the base64url (unpadded) of an STS GetCallerIdentity URL,
 * presigned for 60 s with `host;x-k8s-aws-id` signed. The API server's authenticator calls STS
 * with it to learn the caller's IAM identity. Nothing is sent anywhere here.
 */
export async function eksToken(request: EksTokenRequest): Promise<string> {
  const host = stsHostFor(request.region);
  const signer = new SignatureV4({
    service: 'sts',
    region: request.region,
    credentials: request.credentials,
    sha256: Sha256,
  });
  const presigned = await signer.presign(
    new HttpRequest({
      method: 'GET',
      protocol: 'https:',
      hostname: host,
      path: '/',
      query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
      headers: { host, [CLUSTER_ID_HEADER]: request.cluster },
    }),
    { expiresIn: PRESIGNED_URL_EXPIRES_SECONDS, signingDate: request.signingDate ?? new Date() },
  );
  const query = presigned.query as Record<string, string>;
  const names = [...QUERY_ORDER.filter((name) => name in query), ...Object.keys(query).filter((name) => !QUERY_ORDER.includes(name)).sort()];
  const url = `https://${host}/?${names.map((name) => `${escape(name)}=${escape(query[name])}`).join('&')}`;
  return EKS_TOKEN_PREFIX + Buffer.from(url, 'utf8').toString('base64url');
}

export interface EksTokenProviderOptions {
  readonly cluster: string;
  readonly region: string;
  /** @default - the SDK's default chain (`defaultProvider` of @aws-sdk/credential-provider-node): in Lambda, the function role's credentials from the environment */
  readonly credentials?: AwsCredentialsProvider;
  /** @default - the system clock */
  readonly now?: () => Date;
  /** Age after which the cached token is replaced. @default DEFAULT_TOKEN_REFRESH_AFTER_MS (10 minutes) */
  readonly refreshAfterMs?: number;
}

/**
 * The bearer token for one cluster, cached: the same token until it is `refreshAfterMs` old (or
 * its credentials are about to expire), then a new one. Concurrent callers share one signing.
 * Built once per warm Lambda container by the composition root, so the cache lives as long as it.
 */
export class EksTokenProvider {
  private readonly credentials: AwsCredentialsProvider;
  private readonly now: () => Date;
  private readonly refreshAfterMs: number;
  private cached?: { readonly token: string; readonly replaceAtMs: number };
  private signing?: Promise<string>;

  constructor(private readonly options: EksTokenProviderOptions) {
    this.credentials = options.credentials ?? defaultProvider();
    this.now = options.now ?? (() => new Date());
    this.refreshAfterMs = options.refreshAfterMs ?? DEFAULT_TOKEN_REFRESH_AFTER_MS;
    if (!Number.isInteger(this.refreshAfterMs) || this.refreshAfterMs <= 0 || this.refreshAfterMs > 14 * 60_000) {
      throw new RangeError(`EKS token refresh age: expected a whole number of milliseconds between 1 and 840000 (EKS accepts a token for 15 minutes), got ${this.refreshAfterMs}`);
    }
  }

  /** A token EKS accepts now: the cached one, or a new one. */
  async token(): Promise<string> {
    if (this.cached && this.now().getTime() < this.cached.replaceAtMs) return this.cached.token;
    this.signing ??= this.sign().finally(() => {
      this.signing = undefined;
    });
    return this.signing;
  }

  private async sign(): Promise<string> {
    const { cluster, region } = this.options;
    let credentials: AwsCredentials;
    try {
      credentials = await this.credentials();
    } catch (err) {
      // The provider's message says which sources it tried; it carries no secret.
      throw new ConfigurationError(`EKS cluster ${cluster}: no AWS credentials to sign the Kubernetes token with (${(err as Error)?.message ?? String(err)})`);
    }
    const signingDate = this.now();
    const token = await eksToken({ cluster, region, credentials, signingDate });
    const replaceAtMs = Math.min(
      signingDate.getTime() + this.refreshAfterMs,
      credentials.expiration ? credentials.expiration.getTime() - CREDENTIALS_EXPIRY_MARGIN_MS : Number.POSITIVE_INFINITY,
    );
    this.cached = { token, replaceAtMs };
    return token;
  }
}
