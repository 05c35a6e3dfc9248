// A real HTTP endpoint for webhook tests: records each call; /fail answers 500, anything else 200.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WebhookServer {
  readonly url: string;
  readonly calls: { path: string; body: unknown }[];
  close(): Promise<void>;
}

export async function startWebhookServer(): Promise<WebhookServer> {
  const calls: { path: string; body: unknown }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const path = req.url ?? '/';
      calls.push({ path, body: body ? (JSON.parse(body) as unknown) : null });
      if (path === '/fail') res.writeHead(500, { 'content-type': 'text/plain' }).end('no load for you');
      else res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
