// Turns a handler factory into a Lambda entry point whose dependencies are built once per warm container.
import { buildDeps } from './composition';
import { configFromEnv } from './config';
import type { HandlerDeps } from './deps';

let deps: HandlerDeps | undefined;

export function lambdaHandler<I, O>(create: (deps: HandlerDeps) => (input: I) => Promise<O>): (input: I) => Promise<O> {
  let run: ((input: I) => Promise<O>) | undefined;
  return async (input: I) => {
    deps ??= buildDeps(configFromEnv(process.env));
    run ??= create(deps);
    return run(input);
  };
}
