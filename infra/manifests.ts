// Reads and checks the Canary and MetricTemplate folder at synth time, with the same code the Lambdas run.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseManifestText } from '../lambdas/adapters/manifests/folder-manifests';
import type { LoadedManifests } from '../lambdas/adapters/manifests/folder-manifests';
import { SpecValidationError } from '../lambdas/core/errors';
import { resolveMetrics } from '../lambdas/core/rollout';
import { showValue } from '../lambdas/core/show-value';
import { parseMetricsServer } from '../lambdas/core/spec';
import type { CanarySpec, MetricTemplateSpec, ProviderSpec, RouterType } from '../lambdas/core/spec';
import { rolloutTarget } from '../lambdas/core/targets';
import { OrchestratorConfigError } from './errors';

/** A Canary and the file it came from. */
export interface SourcedCanary {
  readonly file: string;
  readonly canary: CanarySpec;
}

export interface ManifestFolder {
  /** The absolute folder path. */
  readonly dir: string;
  /** The YAML files the Lambdas will read (`*.yaml`, `*.yml`), in name order. */
  readonly files: readonly string[];
  readonly canaries: readonly SourcedCanary[];
  readonly templates: readonly MetricTemplateSpec[];
  /** ECR repositories the Canaries claim (spec.fledge.imageRepository), sorted, once each. */
  readonly repositories: readonly string[];
  /** Namespaces of the Canaries' targets, sorted, once each. */
  readonly namespaces: readonly string[];
  /** The metric providers the Canaries' metrics run on (templates, metrics servers), once each. */
  readonly providers: readonly ProviderSpec[];
  /** The routers the Canaries shift traffic with, sorted, once each. */
  readonly routers: readonly RouterType[];
}

export interface ManifestCheckOptions {
  /** The deployment's EKS cluster; a Canary's spec.fledge.cluster must name it. @default - not checked (the name is a token) */
  readonly clusterName?: string;
  /** The deployment's metrics server, for builtin and inline metrics. @default - none */
  readonly metricsServer?: ProviderSpec;
}

const isYaml = (file: string): boolean => /\.ya?ml$/.test(file);

/**
 * What `loadManifestFolder` reads (the same files, in the same order, parsed by the same
 * `parseManifestText`), read synchronously because a construct's constructor cannot await.
 * Then what Initialize would reject for any push is rejected here instead: a template that is
 * not in the folder, a builtin metric with no metrics server, two Canaries claiming the same
 * pushes, a Canary for another cluster. Every message starts with the file.
 */
export function checkManifestFolder(dir: string, options: ManifestCheckOptions = {}): ManifestFolder {
  try {
    return check(dir, options);
  } catch (error) {
    if (!(error instanceof SpecValidationError || error instanceof OrchestratorConfigError)) throw error;
    throw new OrchestratorConfigError(`manifestsDir ${dir}: ${error.message}`, { cause: error });
  }
}

function check(dir: string, options: ManifestCheckOptions): ManifestFolder {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch {
    isDirectory = false;
  }
  if (!isDirectory) throw new OrchestratorConfigError('expected a folder of Canary YAML files; it does not exist or is not a folder');

  const files = readdirSync(dir).filter(isYaml).sort();
  const canaries: SourcedCanary[] = [];
  const templates: MetricTemplateSpec[] = [];
  for (const file of files) {
    const loaded: LoadedManifests = { canaries: [], templates: [] };
    parseManifestText(readFileSync(join(dir, file), 'utf8'), file, loaded);
    canaries.push(...loaded.canaries.map((canary) => ({ file, canary })));
    templates.push(...loaded.templates);
  }
  if (canaries.length === 0) {
    throw new OrchestratorConfigError(`no Canary in ${files.length} YAML file(s) (${files.join(', ') || 'none'})`);
  }

  const claims = new Map<string, string>();
  const providers = new Map<string, ProviderSpec>();
  for (const { file, canary } of canaries) {
    const name = `Canary ${canary.namespace}/${canary.name}`;
    if (options.clusterName !== undefined && canary.fledge.cluster !== undefined && canary.fledge.cluster !== options.clusterName) {
      throw new OrchestratorConfigError(
        `${file}: spec.fledge.cluster: this deployment serves EKS cluster ${showValue(options.clusterName)}, got ${showValue(canary.fledge.cluster)}`,
      );
    }
    const claim = `${canary.fledge.imageRepository} /${canary.fledge.tagPattern}/`;
    const other = claims.get(claim);
    if (other) {
      throw new OrchestratorConfigError(
        `${file}: spec.fledge: ${name} claims the same pushes as ${other} (repository ${showValue(canary.fledge.imageRepository)}, ` +
          `tags /${canary.fledge.tagPattern}/): set spec.fledge.imageRepository or spec.fledge.tagPattern so that one Canary claims each push`,
      );
    }
    claims.set(claim, `${name} in ${file}`);
    const metricsServer = canary.fledge.metricsServer
      ? parseMetricsServer(canary.fledge.metricsServer, `${file}: spec.fledge.metricsServer`)
      : options.metricsServer;
    try {
      for (const metric of resolveMetrics(canary, templates, metricsServer, rolloutTarget(canary))) {
        providers.set(JSON.stringify(metric.provider), metric.provider);
      }
    } catch (error) {
      if (!(error instanceof SpecValidationError)) throw error;
      throw new OrchestratorConfigError(`${file}: ${error.message}`);
    }
  }

  const sortedOnce = (values: string[]): string[] => [...new Set(values)].sort();
  return {
    dir,
    files,
    canaries,
    templates,
    repositories: sortedOnce(canaries.map(({ canary }) => canary.fledge.imageRepository)),
    namespaces: sortedOnce(canaries.map(({ canary }) => canary.namespace)),
    providers: [...providers.values()],
    routers: sortedOnce(canaries.map(({ canary }) => canary.router)) as RouterType[],
  };
}
