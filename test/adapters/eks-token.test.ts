// EKS tokens: the exact shape `aws eks get-token` gives, a SigV4 signature recomputed here by hand, and the cache that replaces a token before EKS stops accepting it.
import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TOKEN_REFRESH_AFTER_MS,
  EKS_TOKEN_PREFIX,
  EksTokenProvider,
  eksToken,
  type AwsCredentials,
} from '../../lambdas/adapters/kubernetes/eks-token';
import { ConfigurationError } from '../../lambdas/core/errors';

/** The example key pair of AWS's SigV4 documentation. */
const CREDENTIALS: AwsCredentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const SESSION_TOKEN = 'IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLXdlc3QtMiJHMEUCIQ==';
const SIGNED_AT = new Date('2026-01-15T10:20:30Z');

/**
 * What `aws eks get-token` prints as status.token for the same inputs, made with botocore 1.43.11
 * as awscli/customizations/eks/get_token.py makes it (generate_presigned_url('get_caller_identity',
 * ExpiresIn=60) with the x-k8s-aws-id header injected before signing), its clock fixed at SIGNED_AT:
 *
 *   session.set_credentials('AKIDEXAMPLE', 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'[, SESSION_TOKEN])
 *   sts = session.create_client('sts', region_name=REGION)
 *   sts.meta.events.register('before-sign.sts.GetCallerIdentity', lambda request, **kw: request.headers.__setitem__('x-k8s-aws-id', CLUSTER))
 *   with mock.patch('botocore.auth.datetime.datetime', <utcnow() → 2026-01-15 10:20:30>): url = sts.generate_presigned_url(...)
 *   'k8s-aws-v1.' + base64.urlsafe_b64encode(url.encode()).decode().rstrip('=')
 */
const AWS_CLI_TOKEN_PROD_US_WEST_2 =
  'k8s-aws-v1.aHR0cHM6Ly9zdHMudXMtd2VzdC0yLmFtYXpvbmF3cy5jb20vP0FjdGlvbj1HZXRDYWxsZXJJZGVudGl0eSZWZXJzaW9uPTIwMTEtMDYtMTUmWC1BbXotQWxnb3JpdGhtPUFXUzQtSE1BQy1TSEEyNTYmWC1BbXotQ3JlZGVudGlhbD1BS0lERVhBTVBMRSUyRjIwMjYwMTE1JTJGdXMtd2VzdC0yJTJGc3RzJTJGYXdzNF9yZXF1ZXN0JlgtQW16LURhdGU9MjAyNjAxMTVUMTAyMDMwWiZYLUFtei1FeHBpcmVzPTYwJlgtQW16LVNpZ25lZEhlYWRlcnM9aG9zdCUzQngtazhzLWF3cy1pZCZYLUFtei1TaWduYXR1cmU9OTE4NTY2YzA5N2ZlZjk2MDUwYjc2NDM4MWI0OGUwNjk5MDY0ZDRiMGYwYzM1NTU5ZjhlMmY3NzAzOGZiZGU1Ng';
const AWS_CLI_TOKEN_PAYMENTS_PROD_EU_CENTRAL_1_SESSION =
  'k8s-aws-v1.aHR0cHM6Ly9zdHMuZXUtY2VudHJhbC0xLmFtYXpvbmF3cy5jb20vP0FjdGlvbj1HZXRDYWxsZXJJZGVudGl0eSZWZXJzaW9uPTIwMTEtMDYtMTUmWC1BbXotQWxnb3JpdGhtPUFXUzQtSE1BQy1TSEEyNTYmWC1BbXotQ3JlZGVudGlhbD1BS0lERVhBTVBMRSUyRjIwMjYwMTE1JTJGZXUtY2VudHJhbC0xJTJGc3RzJTJGYXdzNF9yZXF1ZXN0JlgtQW16LURhdGU9MjAyNjAxMTVUMTAyMDMwWiZYLUFtei1FeHBpcmVzPTYwJlgtQW16LVNpZ25lZEhlYWRlcnM9aG9zdCUzQngtazhzLWF3cy1pZCZYLUFtei1TZWN1cml0eS1Ub2tlbj1JUW9KYjNKcFoybHVYMlZqRVhBTVBMRSUyRiUyRiUyRiUyRiUyRiUyRiUyRiUyRiUyRiUyRndFYUNYVnpMWGRsYzNRdE1pSkhNRVVDSVElM0QlM0QmWC1BbXotU2lnbmF0dXJlPTZmNjNkZDhkYTZjZmM0YmUwNTY0NzBiNmY4NjkzYWVkOGIwMmVjYWM0YjMyNWVmNzk5NDVmYTlmZGFhY2Y2ZWY';

/** The presigned URL inside a token. */
function presignedUrl(token: string): URL {
  expect(token.startsWith(EKS_TOKEN_PREFIX)).toBe(true);
  return new URL(Buffer.from(token.slice(EKS_TOKEN_PREFIX.length), 'base64url').toString('utf8'));
}

const rfc3986 = (value: string) => encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();
const sha256Hex = (data: string) => createHash('sha256').update(data, 'utf8').digest('hex');

/**
 * SigV4 by hand (AWS General Reference, "Create a signed AWS API request"), from the URL's own
 * query and the header the signature claims to cover: the canonical request, the string to sign,
 * the HMAC key chain, the signature. Nothing here comes from the signer under test.
 */
function recomputeSignature(url: URL, cluster: string, secretAccessKey: string): string {
  const params = [...url.searchParams.entries()].filter(([name]) => name !== 'X-Amz-Signature');
  const canonicalQuery = params
    .map(([name, value]) => [rfc3986(name), rfc3986(value)])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
  const canonicalHeaders = `host:${url.host}\nx-k8s-aws-id:${cluster}\n`;
  const canonicalRequest = ['GET', '/', canonicalQuery, canonicalHeaders, 'host;x-k8s-aws-id', sha256Hex('')].join('\n');
  const amzDate = url.searchParams.get('X-Amz-Date')!;
  const [, day, region, service] = url.searchParams.get('X-Amz-Credential')!.split('/');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, day), region), service), 'aws4_request');
  return createHmac('sha256', signingKey).update(stringToSign, 'utf8').digest('hex');
}

describe('eksToken', () => {
  it('is k8s-aws-v1. and the unpadded base64url of a presigned STS GetCallerIdentity URL for the cluster', async () => {
    // Act
    const token = await eksToken({ cluster: 'prod', region: 'us-west-2', credentials: CREDENTIALS, signingDate: SIGNED_AT });

    // Assess
    expect(token).toMatch(/^k8s-aws-v1\.[A-Za-z0-9_-]+$/);
    const url = presignedUrl(token);
    expect(url.protocol).toBe('https:');
    expect(url.host).toBe('sts.us-west-2.amazonaws.com');
    expect(url.pathname).toBe('/');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      Action: 'GetCallerIdentity',
      Version: '2011-06-15',
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Credential': 'AKIDEXAMPLE/20260115/us-west-2/sts/aws4_request',
      'X-Amz-Date': '20260115T102030Z',
      'X-Amz-Expires': '60',
      'X-Amz-SignedHeaders': 'host;x-k8s-aws-id',
      'X-Amz-Signature': expect.stringMatching(/^[0-9a-f]{64}$/),
    });
  });

  it('carries the SigV4 signature recomputed here by hand over host and x-k8s-aws-id', async () => {
    // Act
    const token = await eksToken({ cluster: 'prod', region: 'us-west-2', credentials: CREDENTIALS, signingDate: SIGNED_AT });

    // Assess
    const url = presignedUrl(token);
    expect(url.searchParams.get('X-Amz-Signature')).toBe(recomputeSignature(url, 'prod', CREDENTIALS.secretAccessKey));
    expect(url.searchParams.get('X-Amz-Signature')).toBe('918566c097fef96050b764381b48e0699064d4b0f0c35559f8e2f77038fbde56');
  });

  it('signs the session token of temporary credentials into the URL', async () => {
    // Act
    const token = await eksToken({
      cluster: 'payments-prod',
      region: 'eu-central-1',
      credentials: { ...CREDENTIALS, sessionToken: SESSION_TOKEN },
      signingDate: SIGNED_AT,
    });

    // Assess
    const url = presignedUrl(token);
    expect(url.host).toBe('sts.eu-central-1.amazonaws.com');
    expect(url.searchParams.get('X-Amz-Security-Token')).toBe(SESSION_TOKEN);
    expect(url.searchParams.get('X-Amz-Credential')).toBe('AKIDEXAMPLE/20260115/eu-central-1/sts/aws4_request');
    expect(url.searchParams.get('X-Amz-Signature')).toBe(recomputeSignature(url, 'payments-prod', CREDENTIALS.secretAccessKey));
  });

  it('is byte for byte the token aws eks get-token gives for the same credentials, cluster, region and time', async () => {
    // Act
    const plain = await eksToken({ cluster: 'prod', region: 'us-west-2', credentials: CREDENTIALS, signingDate: SIGNED_AT });
    const withSession = await eksToken({
      cluster: 'payments-prod',
      region: 'eu-central-1',
      credentials: { ...CREDENTIALS, sessionToken: SESSION_TOKEN },
      signingDate: SIGNED_AT,
    });

    // Assess
    expect(plain).toBe(AWS_CLI_TOKEN_PROD_US_WEST_2);
    expect(withSession).toBe(AWS_CLI_TOKEN_PAYMENTS_PROD_EU_CENTRAL_1_SESSION);
  });

  it('binds the token to its cluster: the name is signed as a header, not sent in the URL', async () => {
    // Act
    const prod = presignedUrl(await eksToken({ cluster: 'prod', region: 'us-west-2', credentials: CREDENTIALS, signingDate: SIGNED_AT }));
    const staging = presignedUrl(await eksToken({ cluster: 'staging', region: 'us-west-2', credentials: CREDENTIALS, signingDate: SIGNED_AT }));

    // Assess
    expect(prod.search).not.toContain('prod');
    expect(staging.searchParams.get('X-Amz-Signature')).not.toBe(prod.searchParams.get('X-Amz-Signature'));
    // The signature over `prod` does not verify as one over `staging`.
    expect(prod.searchParams.get('X-Amz-Signature')).not.toBe(recomputeSignature(prod, 'staging', CREDENTIALS.secretAccessKey));
  });

  it('uses the amazonaws.com.cn STS host in China regions', async () => {
    // Act
    const url = presignedUrl(await eksToken({ cluster: 'prod', region: 'cn-north-1', credentials: CREDENTIALS, signingDate: SIGNED_AT }));

    // Assess
    expect(url.host).toBe('sts.cn-north-1.amazonaws.com.cn');
    expect(url.searchParams.get('X-Amz-Signature')).toBe(recomputeSignature(url, 'prod', CREDENTIALS.secretAccessKey));
  });
});

describe('EksTokenProvider', () => {
  /** A clock the test moves, and a credential provider that counts its calls. */
  function setup(credentials: AwsCredentials = CREDENTIALS) {
    let nowMs = SIGNED_AT.getTime();
    const calls = { credentials: 0 };
    const provider = new EksTokenProvider({
      cluster: 'prod',
      region: 'us-west-2',
      now: () => new Date(nowMs),
      credentials: async () => {
        calls.credentials++;
        return credentials;
      },
    });
    return { provider, calls, advance: (ms: number) => (nowMs += ms) };
  }
  const signedAt = (token: string) => presignedUrl(token).searchParams.get('X-Amz-Date');

  it('reuses a token younger than the refresh age', async () => {
    // Prepare
    const { provider, calls, advance } = setup();
    const first = await provider.token();

    // Act
    advance(DEFAULT_TOKEN_REFRESH_AFTER_MS - 1_000);
    const second = await provider.token();

    // Assess
    expect(second).toBe(first);
    expect(calls.credentials).toBe(1);
  });

  it('signs a new token once the cached one is 10 minutes old, well inside the 15 EKS accepts', async () => {
    // Prepare
    const { provider, advance } = setup();
    const first = await provider.token();

    // Act
    advance(10 * 60_000);
    const second = await provider.token();

    // Assess
    expect(second).not.toBe(first);
    expect(signedAt(first)).toBe('20260115T102030Z');
    expect(signedAt(second)).toBe('20260115T103030Z');
    expect(presignedUrl(second).searchParams.get('X-Amz-Signature')).toBe(recomputeSignature(presignedUrl(second), 'prod', CREDENTIALS.secretAccessKey));
  });

  it('signs a new token before the credentials it was signed with expire', async () => {
    // Prepare: temporary credentials with five minutes left.
    const { provider, advance } = setup({ ...CREDENTIALS, sessionToken: SESSION_TOKEN, expiration: new Date(SIGNED_AT.getTime() + 5 * 60_000) });
    const first = await provider.token();

    // Act
    advance(4 * 60_000);
    const second = await provider.token();

    // Assess
    expect(second).not.toBe(first);
  });

  it('signs once for callers that ask at the same time', async () => {
    // Prepare
    const { provider, calls } = setup();

    // Act
    const tokens = await Promise.all([provider.token(), provider.token(), provider.token()]);

    // Assess
    expect(new Set(tokens).size).toBe(1);
    expect(calls.credentials).toBe(1);
  });

  it('turns missing credentials into a ConfigurationError naming the cluster, and tries again on the next call', async () => {
    // Prepare
    let available = false;
    const provider = new EksTokenProvider({
      cluster: 'prod',
      region: 'us-west-2',
      now: () => SIGNED_AT,
      credentials: async () => {
        if (!available) throw Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
        return CREDENTIALS;
      },
    });

    // Act
    const error = await provider.token().catch((err: unknown) => err);
    available = true;
    const token = await provider.token();

    // Assess
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toBe(
      'EKS cluster prod: no AWS credentials to sign the Kubernetes token with (Could not load credentials from any providers)',
    );
    expect(token.startsWith(EKS_TOKEN_PREFIX)).toBe(true);
  });

  it('refuses a refresh age EKS would not honour', () => {
    expect(() => new EksTokenProvider({ cluster: 'prod', region: 'us-west-2', credentials: async () => CREDENTIALS, refreshAfterMs: 15 * 60_000 })).toThrow(
      /EKS token refresh age: expected a whole number of milliseconds between 1 and 840000 .*got 900000/,
    );
  });
});
