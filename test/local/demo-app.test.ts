// The demo app answers like the build its image names and measures itself in Prometheus's text format.
import { afterEach, describe, expect, it } from 'vitest';
import { startApp } from '../../local/demo/app';
import type { AppServer } from '../../local/demo/app';

const apps: AppServer[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close({ force: true })));
});

async function get(url: string): Promise<number> {
  const response = await fetch(url);
  await response.text();
  return response.status;
}

/** The sample of one series in a text exposition, or undefined when the series is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Prometheus's histogram_quantile over the app's own buckets, in seconds. */
function histogramQuantile(text: string, quantile: number): number {
  const buckets = [...text.matchAll(/^http_request_duration_seconds_bucket\{le="([^"]+)"\} (\S+)$/gm)].map((m) => ({
    le: m[1] === '+Inf' ? Infinity : Number(m[1]),
    count: Number(m[2]),
  }));
  const total = buckets.at(-1)!.count;
  const rank = quantile * total;
  let previous = { le: 0, count: 0 };
  for (const bucket of buckets) {
    if (bucket.count >= rank) {
      if (bucket.le === Infinity) return previous.le;
      return previous.le + ((bucket.le - previous.le) * (rank - previous.count)) / (bucket.count - previous.count);
    }
    previous = bucket;
  }
  return NaN;
}

describe('demo app', () => {
  it('fails exactly one request in five when its build errors', async () => {
    // Prepare
    const app = await startApp({ behavior: 'errors' });
    apps.push(app);

    // Act
    const statuses = await Promise.all(Array.from({ length: 50 }, () => get(`${app.url}/`)));

    // Assess
    expect(statuses.filter((s) => s === 500)).toHaveLength(10);
    expect(statuses.filter((s) => s === 200)).toHaveLength(40);
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    expect(sample(metrics, 'http_requests_total{method="GET",status="500"}')).toBe(10);
    expect(sample(metrics, 'http_requests_total{method="GET",status="200"}')).toBe(40);
  });

  it('answers every request with 200 when healthy or silent', async () => {
    // Prepare
    const healthy = await startApp({ behavior: 'healthy' });
    const silent = await startApp({ behavior: 'silent' });
    apps.push(healthy, silent);

    // Act
    const statuses = await Promise.all([healthy, silent].flatMap((app) => Array.from({ length: 20 }, () => get(`${app.url}/`))));

    // Assess
    expect(statuses.every((s) => s === 200)).toBe(true);
  });

  it('puts p95 and p99 above 500 ms in its own histogram when its build is slow', async () => {
    // Prepare
    const app = await startApp({ behavior: 'slow' });
    apps.push(app);

    // Act
    await Promise.all(Array.from({ length: 20 }, () => get(`${app.url}/`)));
    const metrics = await (await fetch(`${app.url}/metrics`)).text();

    // Assess
    expect(sample(metrics, 'http_request_duration_seconds_count')).toBe(20);
    expect(sample(metrics, 'http_request_duration_seconds_bucket{le="0.5"}')).toBe(0);
    expect(histogramQuantile(metrics, 0.95)).toBeGreaterThan(0.5);
    expect(histogramQuantile(metrics, 0.99)).toBeGreaterThan(0.5);
  });

  it('keeps healthy answers under the 500 ms bucket in its histogram', async () => {
    // Prepare
    const app = await startApp({ behavior: 'healthy', random: () => 0.5 });
    apps.push(app);

    // Act
    await Promise.all(Array.from({ length: 20 }, () => get(`${app.url}/`)));
    const metrics = await (await fetch(`${app.url}/metrics`)).text();

    // Assess
    // Generous on purpose: a loaded machine may stretch a 17 ms timer, but not past 500 ms for most requests.
    expect(histogramQuantile(metrics, 0.5)).toBeLessThan(0.5);
  });

  it('does not count scrapes and probes as traffic', async () => {
    // Prepare
    const app = await startApp({ behavior: 'errors' });
    apps.push(app);

    // Act
    for (let i = 0; i < 4; i++) await get(`${app.url}/metrics`);
    await get(`${app.url}/healthz`);
    const firstTraffic = [];
    for (let i = 0; i < 5; i++) firstTraffic.push(await get(`${app.url}/`));
    const metrics = await (await fetch(`${app.url}/metrics`)).text();

    // Assess
    expect(firstTraffic).toEqual([200, 200, 200, 200, 500]);
    expect(sample(metrics, 'http_request_duration_seconds_count')).toBe(5);
    expect(metrics).not.toMatch(/pod=|instance=/);
  });
});
