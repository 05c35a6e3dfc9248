// A stand-in for Flagger's load tester (flagger-loadtester): takes webhook calls and runs their `hey` commands against the demo gateway.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseHeyCommand, startLoad } from './load-generator';
import type { Load } from './load-generator';

export interface LoadTesterOptions {
  /** Where cluster names (`http://web-canary.prod:80/`) are served: the demo gateway. */
  readonly gatewayUrl: string;
  /** Real seconds per demo second: `hey -z 1m` runs 6 s at 0.1. */
  readonly timeFactor: number;
}

export interface LoadTester {
  readonly url: string;
  /** Commands received, in order. */
  readonly commands: string[];
  close(): Promise<void>;
}

/**
 * POST / with Flagger's webhook payload runs `metadata.cmd` in the background and answers
 * 200 at once, as flagger-loadtester does for commands; a command it cannot run is a 400.
 */
export async function startLoadTester(options: LoadTesterOptions): Promise<LoadTester> {
  const commands: string[] = [];
  const running = new Set<Load>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      try {
        const payload = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { metadata?: { cmd?: string; type?: string } };
        const cmd = payload.metadata?.cmd;
        if (req.method !== 'POST' || !cmd) throw new Error('expected a POST with metadata.cmd');
        if ((payload.metadata?.type ?? 'cmd') !== 'cmd') throw new Error(`metadata.type ${payload.metadata?.type} is not supported here`);
        const parsed = parseHeyCommand(cmd);
        const target = new URL(parsed.url);
        const load = startLoad({
          ...parsed,
          url: `${options.gatewayUrl}${target.pathname}${target.search}`,
          headers: { ...parsed.headers, host: target.host },
          ...(parsed.durationMs !== undefined ? { durationMs: parsed.durationMs * options.timeFactor } : {}),
        });
        commands.push(cmd);
        running.add(load);
        void load.done.finally(() => running.delete(load));
        res.writeHead(200, { 'content-type': 'text/plain' }).end(`command ${cmd} started\n`);
      } catch (error) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(`${(error as Error).message}\n`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    commands,
    async close() {
      await Promise.all([...running].map((load) => load.stop()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
