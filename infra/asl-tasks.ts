// The Lambda functions a state machine definition calls, read from its `${<Task>FunctionArn}` placeholders.
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { OrchestratorConfigError } from './errors';

/** One Lambda function the definition calls. */
export interface LambdaTask {
  /** `ShiftWeight` for `${ShiftWeightFunctionArn}`: also the construct ID of its function. */
  readonly name: string;
  /** The placeholder without `${}`: `ShiftWeightFunctionArn`, the definition substitution's key. */
  readonly placeholder: string;
  /** `lambdas/handlers/shift-weight.ts` as an absolute path. */
  readonly entry: string;
  /** The smallest `TimeoutSeconds` of the Task states that call it. @default - undefined when no Task state sets one */
  readonly taskTimeoutSeconds?: number;
}

const FUNCTION_PLACEHOLDER = /^([A-Z][A-Za-z0-9]*)FunctionArn$/;

/** `WaitForCanaryReady` → `wait-for-canary-ready`. */
export function kebabCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter, at: number) => `${at > 0 ? '-' : ''}${letter.toLowerCase()}`);
}

/** Every `${Name}` placeholder in a definition's text, in order of first appearance. */
export function placeholdersIn(text: string): string[] {
  return [...new Set([...text.matchAll(/\$\{([^}]*)\}/g)].map((match) => match[1]))];
}

type StateJson = { Type?: string; TimeoutSeconds?: unknown; States?: Record<string, StateJson>; Branches?: StateJson[]; ItemProcessor?: StateJson; Iterator?: StateJson };

/** Every state of a definition, including those inside Parallel branches and Map processors. */
function allStates(machine: StateJson): StateJson[] {
  return Object.values(machine.States ?? {}).flatMap((state) => [
    state,
    ...(state.Branches ?? []).flatMap(allStates),
    ...(state.ItemProcessor ? allStates(state.ItemProcessor) : []),
    ...(state.Iterator ? allStates(state.Iterator) : []),
  ]);
}

/**
 * The Lambda functions a definition file calls. Each `${XFunctionArn}` names the handler file
 * `lambdas/handlers/<kebab-case X>.ts`, which must exist and export `handler`. Any other
 * placeholder is an error: the construct would not know what to substitute for it.
 */
export function lambdaTasks(definitionFile: string, handlersDir: string): LambdaTask[] {
  const text = readFileSync(definitionFile, 'utf8');
  const where = basename(definitionFile);
  let definition: StateJson;
  try {
    definition = JSON.parse(text) as StateJson;
  } catch (error) {
    throw new OrchestratorConfigError(`${where}: not JSON: ${(error as Error).message}`);
  }
  const timeouts = new Map<string, number>();
  for (const state of allStates(definition)) {
    if (state.Type !== 'Task' || typeof state.TimeoutSeconds !== 'number') continue;
    for (const placeholder of placeholdersIn(JSON.stringify(state))) {
      timeouts.set(placeholder, Math.min(timeouts.get(placeholder) ?? Infinity, state.TimeoutSeconds));
    }
  }
  return placeholdersIn(text).map((placeholder): LambdaTask => {
    const match = FUNCTION_PLACEHOLDER.exec(placeholder);
    if (!match) {
      throw new OrchestratorConfigError(
        `${where}: placeholder \${${placeholder}} is not a Lambda function ARN; ` +
          'the construct substitutes only ${<Task>FunctionArn} placeholders',
      );
    }
    const name = match[1];
    const entry = join(handlersDir, `${kebabCase(name)}.ts`);
    if (!existsSync(entry)) {
      throw new OrchestratorConfigError(`${where}: \${${placeholder}} names the handler ${entry}, which does not exist`);
    }
    if (!/^export\s+(const|let|async\s+function|function)\s+handler\b/m.test(readFileSync(entry, 'utf8'))) {
      throw new OrchestratorConfigError(`${where}: \${${placeholder}} names the handler ${entry}, which does not export \`handler\``);
    }
    return { name, placeholder, entry, taskTimeoutSeconds: timeouts.get(placeholder) };
  });
}
