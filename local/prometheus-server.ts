// Runs a real Prometheus binary on a free local port for the demo and the adapter tests.
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findBinary, startServerProcess, type ServerProcess } from './server-process';

/** A Prometheus target group, as file_sd and static_configs spell it. */
export interface TargetGroup {
  readonly targets: readonly string[];
  readonly labels?: Readonly<Record<string, string>>;
}

export interface StartPrometheusOptions {
  /** Scrape and rule evaluation interval. @default 1 */
  readonly scrapeIntervalSeconds?: number;
  /** Scrape the groups written by setTargets. @default - true when no staticTargets are given */
  readonly fileSdTargets?: true;
  /** Groups scraped from the start. @default - none */
  readonly staticTargets?: readonly TargetGroup[];
}

export interface RunningPrometheus {
  /** Base URL of the HTTP API, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** Replaces the file_sd target groups; Prometheus picks them up within about 10 s. */
  setTargets(groups: readonly TargetGroup[]): Promise<void>;
  /** Resolves once at least `minCount` targets are up; rejects with each target's state otherwise. */
  waitForTargetsUp(minCount: number, timeoutMs: number): Promise<void>;
  /** Resolves once the instant query `query` returns at least one sample. */
  waitForSeries(query: string, timeoutMs: number): Promise<void>;
  /** Stops Prometheus and removes its configuration and data. */
  close(): Promise<void>;
}

/** The part of /api/v1/targets that says whether a target is scraped. */
interface ActiveTarget {
  readonly scrapeUrl: string;
  readonly health: string;
  readonly lastError: string;
}

const JOB_NAME = 'fledge';
const POLL_MS = 200;

/** Path of the `prometheus` binary on PATH or in /usr/bin, or undefined when it is not installed. */
export function prometheusBinary(): string | undefined {
  return findBinary('prometheus', ['/usr/bin']);
}

export async function startPrometheus(options: StartPrometheusOptions = {}): Promise<RunningPrometheus> {
  const binary = prometheusBinary();
  if (binary === undefined) throw new Error('prometheus is not installed (apt-get install prometheus)');
  const interval = options.scrapeIntervalSeconds ?? 1;
  if (!(interval > 0)) throw new Error(`scrapeIntervalSeconds must be positive, got ${interval}`);

  const directory = await mkdtemp(join(tmpdir(), 'fledge-prometheus-'));
  const targetsFile = join(directory, 'targets.json');
  const fileSd = options.fileSdTargets === true || options.staticTargets === undefined ? targetsFile : undefined;
  try {
    await writeFile(targetsFile, '[]\n');
    await writeFile(join(directory, 'prometheus.yml'), configuration(interval, fileSd, options.staticTargets));
    const server = await startServerProcess({
      name: 'prometheus',
      binary,
      args: (port) => [
        `--config.file=${join(directory, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(directory, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--web.enable-lifecycle',
      ],
      readyPath: '/-/ready',
    });
    return running({ server, directory, targetsFile: fileSd });
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
}

/** JSON is valid YAML, so the configuration is written as JSON: no quoting rules to get wrong. */
function configuration(
  intervalSeconds: number,
  targetsFile: string | undefined,
  staticTargets: readonly TargetGroup[] | undefined,
): string {
  const job: Record<string, unknown> = { job_name: JOB_NAME };
  if (targetsFile !== undefined) job.file_sd_configs = [{ files: [targetsFile], refresh_interval: '1s' }];
  if (staticTargets !== undefined) job.static_configs = staticTargets;
  const config = {
    global: { scrape_interval: `${intervalSeconds}s`, evaluation_interval: `${intervalSeconds}s` },
    scrape_configs: [job],
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

interface Launched {
  readonly server: ServerProcess;
  readonly directory: string;
  /** The file_sd file, when the job reads one. */
  readonly targetsFile: string | undefined;
}

function running({ server, directory, targetsFile }: Launched): RunningPrometheus {
  const { url, logs } = server;
  let closed: Promise<void> | undefined;

  const api = async (path: string): Promise<unknown> => {
    const response = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(2000) });
    const body = (await response.json()) as { status?: string; data?: unknown; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path} failed: ${body.error ?? response.status}`);
    return body.data;
  };

  return {
    url,

    async setTargets(groups) {
      if (targetsFile === undefined) throw new Error('setTargets needs startPrometheus({ fileSdTargets: true })');
      // Write then rename, so Prometheus never reads a half-written file.
      const next = `${targetsFile}.next`;
      await writeFile(next, `${JSON.stringify(groups, null, 2)}\n`);
      await rename(next, targetsFile);
    },

    async waitForTargetsUp(minCount, timeoutMs) {
      let seen = 'no answer';
      const deadline = Date.now() + timeoutMs;
      do {
        try {
          const data = (await api('/api/v1/targets?state=active')) as { activeTargets: ActiveTarget[] };
          const up = data.activeTargets.filter((target) => target.health === 'up').length;
          if (up >= minCount) return;
          const states = data.activeTargets.map((t) => `${t.scrapeUrl} ${t.health}${t.lastError ? ` (${t.lastError})` : ''}`);
          seen = states.join(', ') || 'no targets';
        } catch (error) {
          seen = (error as Error).message;
        }
        await sleep(POLL_MS);
      } while (Date.now() < deadline);
      throw new Error(`fewer than ${minCount} targets up after ${timeoutMs} ms: ${seen}`);
    },

    async waitForSeries(query, timeoutMs) {
      let seen = 'no answer';
      const deadline = Date.now() + timeoutMs;
      do {
        try {
          const data = (await api(`/api/v1/query?query=${encodeURIComponent(query)}`)) as { resultType: string; result: unknown };
          const hasSample = Array.isArray(data.result) ? data.result.length > 0 : data.result !== null;
          if (hasSample) return;
          seen = 'an empty result';
        } catch (error) {
          seen = (error as Error).message;
        }
        await sleep(POLL_MS);
      } while (Date.now() < deadline);
      throw new Error(`no series for ${query} after ${timeoutMs} ms (last answer: ${seen})\n${logs.slice(-5).join('\n')}`);
    },

    close() {
      closed ??= (async () => {
        await server.stop();
        await rm(directory, { recursive: true, force: true });
      })();
      return closed;
    },
  };
}
