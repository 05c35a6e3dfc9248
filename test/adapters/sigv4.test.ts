// SigV4 for Amazon Managed Prometheus: AWS's published test vectors, and what a server receives re-signed by hand with node:crypto.
import { createHash, createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PrometheusProvider } from '../../lambdas/adapters/metrics/prometheus-provider';
import { signRequest } from '../../lambdas/adapters/metrics/sigv4';
import { MetricProviderError } from '../../lambdas/core/errors';

/** The credentials of AWS's SigV4 test suite (aws-sig-v4-test-suite), and its signing time. */
const SUITE = {
  credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
  region: 'us-east-1',
  service: 'service',
  signingDate: new Date('2015-08-30T12:36:00Z'),
};

describe('signRequest: AWS SigV4 test suite vectors', () => {
  it('signs get-vanilla as AWS publishes it', async () => {
    // Act
    const headers = await signRequest({ method: 'GET', url: new URL('https://example.amazonaws.com/') }, SUITE);

    // Assess
    expect(headers).toEqual({
      'x-amz-date': '20150830T123600Z',
      authorization:
        'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, ' +
        'Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
    });
  });

  it('signs get-vanilla-query-order-key-case (query sorted before signing) as AWS publishes it', async () => {
    const headers = await signRequest({ method: 'GET', url: new URL('https://example.amazonaws.com/?Param2=value2&Param1=value1') }, SUITE);

    expect(headers.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, ' +
        'Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500',
    );
  });
});

interface Received {
  readonly method: string;
  /** The request target exactly as it came over the wire: path and raw query. */
  readonly rawUrl: string;
  readonly headers: IncomingHttpHeaders;
}

const sha256 = (data: string) => createHash('sha256').update(data, 'utf8').digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();
const escape = (value: string) => encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * The signature AWS would compute for a request as received, written from the SigV4
 * specification with node:crypto, independently of the signer under test: the canonical request
 * from the wire (the query decoded as a SigV4 service decodes it: "+" is a plus, not a space),
 * the string to sign, the derived key, the HMAC.
 */
function signatureOf(received: Received, secretAccessKey: string): { signature: string; signedHeaders: string; scope: string } {
  const authorization = String(received.headers.authorization);
  const match = /^AWS4-HMAC-SHA256 Credential=[^/]+\/([^,]+), SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(authorization);
  if (!match) throw new Error(`not a SigV4 authorization header: ${authorization}`);
  const [, scope, signedHeaders] = match;
  const [date, region, service] = scope.split('/');
  const [path, rawQuery = ''] = received.rawUrl.split('?');
  const canonicalUri = path
    .split('/')
    .map((segment) => escape(segment))
    .join('/');
  const canonicalQuery = rawQuery
    .split('&')
    .filter((pair) => pair !== '')
    .map((pair) => pair.split('=').map((part) => escape(decodeURIComponent(part ?? ''))))
    .sort(([a, x], [b, y]) => (a === b ? (x < y ? -1 : 1) : a < b ? -1 : 1))
    .map(([name, value = '']) => `${name}=${value}`)
    .join('&');
  const canonicalHeaders = signedHeaders
    .split(';')
    .map((name) => `${name}:${String(received.headers[name]).trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const canonicalRequest = [received.method, canonicalUri, canonicalQuery, canonicalHeaders, signedHeaders, sha256('')].join('\n');
  const stringToSign = ['AWS4-HMAC-SHA256', String(received.headers['x-amz-date']), scope, sha256(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, date), region), service), 'aws4_request');
  return { signature: createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex'), signedHeaders, scope };
}

describe('PrometheusProvider signing for Amazon Managed Prometheus', () => {
  const credentials = {
    accessKeyId: 'ASIAFLEDGETEST000001',
    secretAccessKey: 'fledge/Test+Secret/Key0000000000000000000',
    sessionToken: 'IQoJb3JpZ2luX2VjEFledgeSessionToken//+==',
  };
  const received: Received[] = [];
  let server: Server;
  let address: string;

  beforeAll(async () => {
    server = createServer((request, response) => {
      received.push({ method: request.method ?? '', rawUrl: request.url ?? '', headers: request.headers });
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [0, '1'] }] } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    // A workspace path, as an AMP address has one.
    address = `http://127.0.0.1:${(server.address() as AddressInfo).port}/workspaces/ws-12345678-abcd`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => {
    received.length = 0;
  });

  function signing(provide = async () => credentials): PrometheusProvider {
    return new PrometheusProvider({ address, timeoutMs: 2000, headers: { 'X-Scope-OrgID': 'tenant-a' }, sigv4: { region: 'eu-west-1', credentials: provide } });
  }

  it('sends a query whose signature, recomputed by hand from what the server received, matches', async () => {
    // Prepare: spaces, quotes, braces, "+", "~", "*", "!" and "=~" all need escaping
    const query = 'sum(rate(http_requests_total{status=~"5..",path!="/a b"}[1m])) * 100 + 1 / count(up{job=~".*"})';

    // Act
    const value = await signing().query(query, { seconds: 60, end: new Date('2026-01-01T00:00:00Z') });

    // Assess
    expect(value).toBe(1);
    expect(received).toHaveLength(1);
    const [request] = received;
    const recomputed = signatureOf(request, credentials.secretAccessKey);
    expect(String(request.headers.authorization)).toMatch(new RegExp(`Signature=${recomputed.signature}$`));
    expect(recomputed.scope).toMatch(/^\d{8}\/eu-west-1\/aps\/aws4_request$/);
    expect(recomputed.signedHeaders).toBe('host;x-amz-date;x-amz-security-token');
    expect(request.headers['x-amz-security-token']).toBe(credentials.sessionToken);
    expect(request.headers['x-scope-orgid']).toBe('tenant-a');
    // The query arrives as written: escaped with %20, never "+", so a SigV4 service reads it back the same.
    const params = Object.fromEntries(request.rawUrl.split('?')[1].split('&').map((pair) => pair.split('=').map(decodeURIComponent)));
    expect(params).toEqual({ query, time: '1767225600.000', timeout: '2000ms' });
    expect(request.rawUrl.startsWith('/workspaces/ws-12345678-abcd/api/v1/query?')).toBe(true);
  });

  it('signs checkOnline too', async () => {
    await signing().checkOnline();

    expect(signatureOf(received[0], credentials.secretAccessKey).signature).toBe(/Signature=([0-9a-f]+)/.exec(String(received[0].headers.authorization))![1]);
  });

  it('fails, naming the address and without calling it, when there are no AWS credentials to sign with', async () => {
    // Act
    const error = await signing(async () => {
      throw new Error('Could not load credentials from any providers');
    })
      .query('up', { seconds: 60, end: new Date() })
      .catch((e: Error) => e);

    // Assess
    expect(error).toBeInstanceOf(MetricProviderError);
    expect((error as Error).message).toBe(`Prometheus at ${address}: no AWS credentials to sign with SigV4 (Could not load credentials from any providers)`);
    expect(received).toHaveLength(0);
  });
});
