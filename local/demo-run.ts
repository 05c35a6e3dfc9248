// One demo rollout on this machine: emulator, demo world, manifests, and the real state machine run end to end.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseImagePush } from '../lambdas/core/ecr-event';
import { buildDeps } from '../lambdas/handlers/composition';
import type { Behavior } from './demo/app';
import { behaviorForImages, seedObjects, startDemoWorld } from './demo/world';
import type { DemoWorld } from './demo/world';
import { startLoadTester } from './demo/load-tester';
import type { LoadTester } from './demo/load-tester';
import { startKubeEmulator } from './kube-emulator';
import type { KubeEmulator } from './kube-emulator';
import { startPrometheus } from './prometheus-server';
import type { RunningPrometheus } from './prometheus-server';
import { runRollout } from './runner';
import type { EventLog, Outcome } from './runner';

export const SCENARIOS = ['healthy', 'errors', 'slow', 'silent'] as const;
export type Scenario = (typeof SCENARIOS)[number];

const DEMO_DIR = fileURLToPath(new URL('./demo/', import.meta.url));
export const STABLE_IMAGE = '123456789012.dkr.ecr.us-west-2.amazonaws.com/web:1.4.1';
const NAMESPACE = 'prod';
const NAME = 'web';

export interface DemoOptions {
  readonly scenario: Scenario;
  /** Real seconds per demo second. @default 0.1 */
  readonly timeFactor?: number;
  /** Run a real Prometheus scraping the pods, and the seed's PromQL template. */
  readonly prometheus?: boolean;
  readonly onEvent?: (event: EventLog) => void;
}

export interface DemoResult {
  readonly scenario: Scenario;
  readonly outcome: Outcome;
  readonly reason: string | null;
  readonly failedChecks: number;
  /** Each weight the canary had, in order. */
  readonly weights: readonly number[];
  /** The stable Deployment's image at the end. */
  readonly stableImage: string;
  /** Route weights at the end, read from the HTTPRoute: {stable, canary}. */
  readonly finalWeights: { readonly stable: number; readonly canary: number };
  /** Requests the demo's users lost on the stable side during the run. */
  readonly lostRequests: number;
}

// Where the seed's manifests point at in-cluster addresses, the demo points them at the local stand-ins.
const SEED_LOAD_TESTER = 'http://flagger-loadtester.prod/';
const SEED_PROMETHEUS = 'http://prometheus.monitoring:9090';
/** The address of a load tester that is down: a port that was free a moment ago. */
async function downUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}/`;
}

async function writeManifests(dir: string, gatewayUrl: string, loadTesterUrl: string, prometheusUrl: string | undefined): Promise<void> {
  const canary = await readFile(join(DEMO_DIR, 'manifests', 'canary.yaml'), 'utf8');
  await writeFile(join(dir, 'canary.yaml'), canary.replace(SEED_LOAD_TESTER, loadTesterUrl));
  if (prometheusUrl) {
    // The seed's template as written, with the in-cluster Prometheus address pointed at the local one.
    const seed = await readFile(join(DEMO_DIR, 'prometheus-error-rate.yaml'), 'utf8');
    await writeFile(join(dir, 'error-rate.yaml'), seed.replace(SEED_PROMETHEUS, prometheusUrl));
  } else {
    const web = await readFile(join(DEMO_DIR, 'manifests', 'error-rate-web.yaml'), 'utf8');
    await writeFile(join(dir, 'error-rate.yaml'), web.replace('http://DEMO_GATEWAY', gatewayUrl));
  }
}

function routeWeights(emulator: KubeEmulator): { stable: number; canary: number } {
  const route = emulator.get('gateway.networking.k8s.io/v1', 'HTTPRoute', NAMESPACE, NAME);
  const refs: { name: string; weight?: number }[] = route?.spec?.rules?.[0]?.backendRefs ?? [];
  const weight = (name: string) => {
    const ref = refs.find((r) => r.name === name);
    return ref ? (ref.weight ?? 1) : 0;
  };
  return { stable: weight(NAME), canary: weight(`${NAME}-canary`) };
}

/** Run one scenario end to end and say how it ended. */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const timeFactor = options.timeFactor ?? 0.1;
  const event = JSON.parse(await readFile(join(DEMO_DIR, 'ecr-push-event.json'), 'utf8')) as unknown;
  const pushed = parseImagePush(event).image;
  const manifestsDir = await mkdtemp(join(tmpdir(), 'fledge-demo-'));
  let emulator: KubeEmulator | undefined;
  let world: DemoWorld | undefined;
  let prometheus: RunningPrometheus | undefined;
  let loadTester: LoadTester | undefined;
  try {
    emulator = await startKubeEmulator({ rolloutDelayMs: Math.max(50, 2000 * timeFactor) });
    emulator.seed(seedObjects({ namespace: NAMESPACE, name: NAME, stableImage: STABLE_IMAGE }));
    const behaviors: Record<string, Behavior> = { [STABLE_IMAGE]: 'healthy', [pushed]: options.scenario };
    world = await startDemoWorld({
      kubeUrl: emulator.url,
      namespace: NAMESPACE,
      name: NAME,
      stableImage: STABLE_IMAGE,
      scenarioImage: pushed,
      behaviorForImage: behaviorForImages(behaviors),
      timeFactor,
      silent: options.scenario === 'silent',
    });
    if (options.prometheus) {
      prometheus = await startPrometheus({ scrapeIntervalSeconds: 1, fileSdTargets: true });
      const running = prometheus;
      const publish = () =>
        running.setTargets(
          world!.pods.pods().map((pod) => ({
            targets: [new URL(pod.url).host],
            labels: { namespace: pod.namespace, kubernetes_pod_name: pod.name },
          })),
        );
      world.pods.onChange(() => void publish());
      await publish();
      await prometheus.waitForTargetsUp(1, 20_000);
    }
    // The seed's rollout webhook runs `hey` against web-canary on every step; in the silent scenario
    // the load tester is down and clients bypass the route, so nothing reaches the canary.
    if (options.scenario !== 'silent') loadTester = await startLoadTester({ gatewayUrl: world.gatewayUrl, timeFactor });
    await writeManifests(manifestsDir, world.statsUrl.replace(/\/stats$/, ''), loadTester?.url ?? (await downUrl()), prometheus?.url);
    const deps = buildDeps({
      manifestsDir,
      kubeServer: emulator.url,
      metricsServer: prometheus
        ? { type: 'prometheus', address: prometheus.url }
        : { type: 'web', address: world.statsUrl.replace(/\/stats$/, '') },
      metricTimeoutMs: 5000,
    });
    const result = await runRollout({ deps, event, timeFactor, onEvent: options.onEvent });
    const stable = emulator.get('apps/v1', 'Deployment', NAMESPACE, NAME);
    return {
      scenario: options.scenario,
      outcome: result.outcome,
      reason: result.status?.reason ?? result.cause ?? null,
      failedChecks: result.status?.failedChecks ?? 0,
      weights: result.status?.weights ?? [],
      stableImage: stable?.spec?.template?.spec?.containers?.[0]?.image ?? '',
      finalWeights: routeWeights(emulator),
      lostRequests: world.lostRequests(),
    };
  } finally {
    await loadTester?.close();
    await world?.close();
    await prometheus?.close();
    await emulator?.close();
    await rm(manifestsDir, { recursive: true, force: true });
  }
}
