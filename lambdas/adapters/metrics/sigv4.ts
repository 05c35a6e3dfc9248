// SigV4 for HTTP APIs the AWS SDK has no client for: the Prometheus query API of Amazon Managed Service for Prometheus (service `aps`).
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';

import type { AwsCredentials, AwsCredentialsProvider } from '../aws-credentials';

export type { AwsCredentials, AwsCredentialsProvider };

/** The service name Amazon Managed Service for Prometheus signs for. */
export const AMP_SERVICE = 'aps';

export interface SigV4Options {
  /** The signing name of the service: `aps` for Amazon Managed Service for Prometheus. */
  readonly service: string;
  readonly region: string;
  readonly credentials: AwsCredentials;
  /** @default - now */
  readonly signingDate?: Date;
}

export interface SignableRequest {
  readonly method: string;
  /** Sent exactly as given: build its query with `queryString`, so that what is signed is what is sent. */
  readonly url: URL;
  readonly body?: string;
}

/** RFC 3986 escaping, the escaping SigV4 signs; encodeURIComponent leaves !'()* alone. */
export function rfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * A query string escaped as SigV4's canonical form escapes it: a space as %20, never "+"
 * (URLSearchParams writes "+", which a SigV4 service reads as a literal plus, and the
 * signature no longer matches).
 */
export function queryString(params: readonly (readonly [string, string])[]): string {
  return params.map(([name, value]) => `${rfc3986(name)}=${rfc3986(value)}`).join('&');
}

/**
 * The headers that sign one request with SigV4: `authorization`, `x-amz-date` and, with
 * temporary credentials, `x-amz-security-token`. Signs `host` (as fetch sends it: the URL's
 * host, with a port that is not the default) and the `x-amz-*` headers; other headers the caller
 * sends go unsigned, which SigV4 allows.
 */
export async function signRequest(request: SignableRequest, options: SigV4Options): Promise<Record<string, string>> {
  const { url } = request;
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of url.searchParams) {
    const previous = query[name];
    query[name] = previous === undefined ? value : [...(Array.isArray(previous) ? previous : [previous]), value];
  }
  const signer = new SignatureV4({
    service: options.service,
    region: options.region,
    credentials: options.credentials,
    sha256: Sha256,
    // x-amz-content-sha256 is S3's; other services take the payload hash inside the signature only.
    applyChecksum: false,
  });
  const signed = await signer.sign(
    new HttpRequest({
      method: request.method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port === '' ? undefined : Number(url.port),
      path: url.pathname,
      query,
      headers: { host: url.host },
      body: request.body,
    }),
    { signingDate: options.signingDate ?? new Date() },
  );
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers)) {
    if (name.toLowerCase() !== 'host') headers[name.toLowerCase()] = value;
  }
  return headers;
}
