// HttpWebhookClient against a real local HTTP server: Flagger's payload posted as JSON, 2xx or a named error.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpWebhookClient } from '../../lambdas/adapters/notify/http-webhook-client';
import { WebhookError } from '../../lambdas/core/errors';

const payload = { name: 'web', namespace: 'prod', phase: 'Progressing', metadata: { cmd: 'hey -z 1m http://web-canary.prod/' } };

describe('HttpWebhookClient', () => {
  let server: Server | undefined;

  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    server = undefined;
  });

  async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
    server = createServer(handler);
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  }

  it('posts the payload as JSON and resolves on 2xx', async () => {
    // Prepare
    const received: { method?: string; type?: string; body: string }[] = [];
    const url = await serve((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        received.push({ method: req.method, type: req.headers['content-type'], body });
        res.writeHead(202).end();
      });
    });

    // Act
    await new HttpWebhookClient().call(url, payload, 5);

    // Assess
    expect(received).toEqual([{ method: 'POST', type: 'application/json', body: JSON.stringify(payload) }]);
  });

  it('fails with the status and the body of a non-2xx answer', async () => {
    const url = await serve((_req, res) => res.writeHead(503).end('load tester busy'));

    const call = new HttpWebhookClient().call(url, payload, 5);

    await expect(call).rejects.toThrow(WebhookError);
    await expect(call).rejects.toThrow(`${url} answered HTTP 503: load tester busy`);
  });

  it('fails when the hook does not answer within its timeout', async () => {
    const url = await serve(() => {
      /* never answers */
    });

    await expect(new HttpWebhookClient().call(url, payload, 0.2)).rejects.toThrow(`${url} did not answer within 0.2s`);
  });

  it('fails naming the address when nothing listens there', async () => {
    // Prepare: a port that was just free (fetch refuses to even try "bad ports" such as 1).
    const url = await serve(() => undefined);
    server!.close();
    server = undefined;

    await expect(new HttpWebhookClient().call(url, payload, 5)).rejects.toThrow(`${url} is unreachable: ECONNREFUSED`);
  });
});
