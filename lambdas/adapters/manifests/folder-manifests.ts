// Reads the Canary and MetricTemplate YAML files of a folder (bundled with the Lambdas, or local/ for the demo).
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { SpecValidationError } from '../../core/errors';
import { parseCanary, parseMetricTemplate } from '../../core/spec';
import type { CanarySpec, MetricTemplateSpec } from '../../core/spec';

export interface LoadedManifests {
  readonly canaries: CanarySpec[];
  readonly templates: MetricTemplateSpec[];
}

/** Parse YAML text holding one or more documents; `source` names the file in errors. */
export function parseManifestText(text: string, source: string, into: LoadedManifests): void {
  const documents = parseAllDocuments(text);
  documents.forEach((document, index) => {
    const where = documents.length > 1 ? `${source}#${index + 1}` : source;
    if (document.errors.length > 0) {
      // yaml's own message quotes the offending source line, which may hold a credential: say where, not what.
      const [error] = document.errors;
      const at = error.linePos ? ` at line ${error.linePos[0].line}, column ${error.linePos[0].col}` : '';
      throw new SpecValidationError(`${where}: invalid YAML${at} (${error.code})`);
    }
    let value: { kind?: unknown } | null;
    try {
      value = document.toJS({ maxAliasCount: 100 }) as { kind?: unknown } | null;
    } catch (error) {
      // An alias to a missing anchor, or an alias bomb.
      throw new SpecValidationError(`${where}: invalid YAML: ${(error as Error).message.split(':')[0]}`);
    }
    if (value === null || value === undefined) return;
    switch (value.kind) {
      case 'Canary':
        into.canaries.push(parseCanary(value, where));
        break;
      case 'MetricTemplate':
        into.templates.push(parseMetricTemplate(value, where));
        break;
      default:
        throw new SpecValidationError(
          `${where}: kind: expected Canary or MetricTemplate, got ${JSON.stringify(value.kind ?? null)}`,
        );
    }
  });
}

/** Every *.yaml and *.yml file in a folder, in name order. */
export async function loadManifestFolder(folder: string): Promise<LoadedManifests> {
  const loaded: LoadedManifests = { canaries: [], templates: [] };
  const files = (await readdir(folder)).filter((file) => /\.ya?ml$/.test(file)).sort();
  for (const file of files) {
    parseManifestText(await readFile(join(folder, file), 'utf8'), file, loaded);
  }
  return loaded;
}
