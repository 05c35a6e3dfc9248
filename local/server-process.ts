// A local server binary (Prometheus, moto_server) run on a free port: found on PATH, started, awaited until it answers, stopped.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const LOG_LINES_KEPT = 40;
const PORT_ATTEMPTS = 3;

export interface ServerProcessOptions {
  /** For messages: `prometheus`, `moto_server`. */
  readonly name: string;
  readonly binary: string;
  /** The command line for a port. */
  readonly args: (port: number) => string[];
  /** A path that answers 2xx once the server is ready (`/-/ready`). */
  readonly readyPath: string;
  /** @default 15000 */
  readonly readyTimeoutMs?: number;
}

export interface ServerProcess {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Its latest output lines, for error messages. */
  readonly logs: readonly string[];
  /** SIGTERM, then SIGKILL after 5 s; idempotent. */
  stop(): Promise<void>;
}

/** The binary on PATH (or in `extraDirectories`), or undefined. */
export function findBinary(name: string, extraDirectories: readonly string[] = []): string | undefined {
  const directories = (process.env.PATH ?? '').split(delimiter).filter((directory) => directory !== '');
  for (const directory of [...directories, ...extraDirectories]) {
    const candidate = join(directory, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Starts the server on a free port and resolves once `readyPath` answers 2xx; tries a fresh
 * port if another process took that one first. A test run that dies half-way kills it.
 */
export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  let lastError: unknown;
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
    const port = await freePort();
    const logs: string[] = [];
    const child = spawn(options.binary, options.args(port), { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer) => {
      logs.push(...chunk.toString().split('\n').filter((line) => line !== ''));
      logs.splice(0, Math.max(0, logs.length - LOG_LINES_KEPT));
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitForReady(options, child, url, logs);
    } catch (error) {
      lastError = error;
      await stop(child);
      if (!logs.some((line) => /address already in use/i.test(line))) break;
      continue;
    }
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    return {
      url,
      logs,
      async stop() {
        process.removeListener('exit', killOnExit);
        await stop(child);
      },
    };
  }
  throw lastError;
}

async function waitForReady(options: ServerProcessOptions, child: ChildProcess, url: string, logs: string[]): Promise<void> {
  const timeoutMs = options.readyTimeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${options.name} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${logs.join('\n')}`);
    }
    try {
      const response = await fetch(`${url}${options.readyPath}`, { signal: AbortSignal.timeout(1_000) });
      await response.body?.cancel();
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await sleep(50);
  }
  throw new Error(`${options.name} at ${url} was not ready within ${timeoutMs} ms:\n${logs.join('\n')}`);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
