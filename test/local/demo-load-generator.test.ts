// The hey-like load generator: bounded, rate-limited per worker, counting answers; and hey command lines.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseHeyCommand, startLoad } from '../../local/demo/load-generator';

const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map((server) => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    }),
  );
});

/** A server answering 500 to every third request and 200 otherwise. */
async function startTarget(): Promise<string> {
  let count = 0;
  const server = http.createServer((_req, res) => {
    count++;
    res.writeHead(count % 3 === 0 ? 500 : 200);
    res.end();
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

describe('load generator', () => {
  it('sends exactly the requested number of requests and counts 5xx as failed', async () => {
    // Prepare
    const url = await startTarget();

    // Act
    const counts = await startLoad({ url, concurrency: 3, ratePerWorker: 0, totalRequests: 30 }).done;

    // Assess
    expect(counts.sent).toBe(30);
    expect(counts.byStatus[200]).toBe(20);
    expect(counts.byStatus[500]).toBe(10);
    expect(counts.failed).toBe(10);
    expect(counts.connectionErrors).toBe(0);
  });

  it('stops by itself at its duration and holds each worker to its rate', async () => {
    // Prepare
    const url = await startTarget();

    // Act
    const counts = await startLoad({ url, concurrency: 2, ratePerWorker: 10, durationMs: 500 }).done;

    // Assess
    // Throttled, about 2 × (1 + 5) requests; unthrottled, hundreds. The bound leaves room for a late deadline timer.
    expect(counts.sent).toBeGreaterThan(0);
    expect(counts.sent).toBeLessThanOrEqual(40);
  });

  it('counts a server that is not there as connection errors', async () => {
    // Prepare
    const url = await startTarget();
    await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));

    // Act
    const counts = await startLoad({ url, concurrency: 1, ratePerWorker: 0, totalRequests: 3 }).done;

    // Assess
    expect(counts).toEqual({ sent: 3, byStatus: {}, failed: 3, connectionErrors: 3 });
  });

  it('stops on stop() and resolves with the final counts', async () => {
    // Prepare
    const url = await startTarget();
    const load = startLoad({ url, concurrency: 2, ratePerWorker: 50 });
    await new Promise((resolve) => setTimeout(resolve, 100));

    // Act
    const counts = await load.stop();

    // Assess
    expect(counts.sent).toBeGreaterThan(0);
    expect(load.counts().sent).toBe(counts.sent);
  });

  it('reads the Flagger load-test command from the seed Canary', () => {
    // Act
    const options = parseHeyCommand('hey -z 1m -q 10 -c 2 http://web-canary.prod:80/');

    // Assess
    expect(options).toEqual({
      url: 'http://web-canary.prod:80/',
      concurrency: 2,
      ratePerWorker: 10,
      durationMs: 60_000,
      timeoutMs: 20_000,
      method: 'GET',
    });
  });

  it("applies hey's defaults and reads quoted headers, host and method", () => {
    // Act
    const options = parseHeyCommand(`hey -m post -H "X-Test: a b" -host web.prod -t 5 -d '{"a":1}' http://127.0.0.1:1/`);

    // Assess
    expect(options).toEqual({
      url: 'http://127.0.0.1:1/',
      concurrency: 50,
      ratePerWorker: 0,
      totalRequests: 200,
      timeoutMs: 5_000,
      method: 'POST',
      headers: { 'x-test': 'a b', host: 'web.prod' },
      body: '{"a":1}',
    });
  });

  it('rejects a hey command it cannot honour, naming the flag', () => {
    expect(() => parseHeyCommand('hey -x 3 http://a/')).toThrow('hey flag -x is not supported');
    expect(() => parseHeyCommand('hey -z soon http://a/')).toThrow('-z needs a duration');
    expect(() => parseHeyCommand('hey -c 2')).toThrow('no URL');
  });
});
