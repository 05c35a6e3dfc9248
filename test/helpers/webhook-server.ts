// A real HTTP endpoint for webhook tests: records each call; /fail answers 500, a scripted path its statuses in turn, anything else 200.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WebhookServer {
  readonly url: string;
  readonly calls: { path: string; body: unknown }[];
  /** Answer `path` with these statuses in turn, the last one from then on (a gate that opens: [403, 403, 200]). */
  script(path: string, statuses: readonly number[]): void;
  close(): Promise<void>;
}

export async function startWebhookServer(): Promise<WebhookServer> {
  const calls: { path: string; body: unknown }[] = [];
  const scripts = new Map<string, number[]>();
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const path = req.url ?? '/';
      calls.push({ path, body: body ? (JSON.parse(body) as unknown) : null });
      const script = scripts.get(path);
      const status = script ? (script.length > 1 ? script.shift()! : script[0]) : path === '/fail' ? 500 : 200;
      if (status === 500) res.writeHead(500, { 'content-type': 'text/plain' }).end('no load for you');
      else if (status >= 300) res.writeHead(status, { 'content-type': 'text/plain' }).end('not yet');
      else res.writeHead(status).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    script: (path, statuses) => scripts.set(path, [...statuses]),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
