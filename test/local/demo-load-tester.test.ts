// The demo's flagger-loadtester stand-in: a webhook call runs its hey command against the gateway, addressed by Service name.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startLoadTester } from '../../local/demo/load-tester';
import type { LoadTester } from '../../local/demo/load-tester';

describe('demo load tester', () => {
  let tester: LoadTester | undefined;
  const hosts: string[] = [];
  const gateway = createServer((req, res) => {
    hosts.push(req.headers.host ?? '');
    res.writeHead(200).end('ok');
  });

  afterEach(async () => {
    await tester?.close();
    await new Promise((resolve) => gateway.close(resolve));
  });

  it('runs the hey command of a webhook call against the gateway, with the target as Host, for the scaled duration', async () => {
    // Prepare
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
    const gatewayUrl = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
    tester = await startLoadTester({ gatewayUrl, timeFactor: 0.005 });
    const cmd = 'hey -z 1m -q 10 -c 2 http://web-canary.prod:80/';

    // Act
    const answer = await fetch(tester.url, {
      method: 'POST',
      body: JSON.stringify({ name: 'web', namespace: 'prod', phase: 'Progressing', metadata: { cmd } }),
    });
    await new Promise((resolve) => setTimeout(resolve, 600));

    // Assess
    expect(answer.status).toBe(200);
    expect(tester.commands).toEqual([cmd]);
    expect(hosts.length).toBeGreaterThan(0);
    expect(new Set(hosts)).toEqual(new Set(['web-canary.prod'])); // URL.host drops the default port
  });

  it('answers 400 to a call without a command', async () => {
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
    tester = await startLoadTester({ gatewayUrl: 'http://127.0.0.1:9', timeFactor: 1 });

    const answer = await fetch(tester.url, { method: 'POST', body: JSON.stringify({ metadata: {} }) });

    expect(answer.status).toBe(400);
    expect(await answer.text()).toContain('expected a POST with metadata.cmd');
  });
});
