// Secrets from AWS Secrets Manager, cached per Lambda container: a rollout's queries read each secret once per TTL, not once each.
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import { ConfigurationError } from '../../core/errors';
import { SecretReadError } from '../../ports/secrets';
import type { SecretStore } from '../../ports/secrets';

export interface SecretsManagerSecretStoreOptions {
  /** Settings for every client but the region (an endpoint and credentials, in tests). @default - the SDK's defaults: the Lambda role */
  readonly clientConfig?: Omit<SecretsManagerClientConfig, 'region'>;
  /** Makes the client for a region (undefined: the default region), once per region. @default - a SecretsManagerClient with clientConfig */
  readonly createClient?: (region: string | undefined) => SecretsManagerClient;
  /** How long a value is reused before it is read again, so a rotated secret is picked up. @default 300000 (5 minutes) */
  readonly ttlMs?: number;
  /** Time allowed for one GetSecretValue, retries included. @default 5000 */
  readonly timeoutMs?: number;
  /** @default - the system clock */
  readonly now?: () => number;
}

const DEFAULT_TTL_MS = 5 * 60_000;
const DEFAULT_TIMEOUT_MS = 5000;

/** The region in a secret's ARN (arn:aws:secretsmanager:<region>:…); a plain name is looked up in the deployment's region. */
function regionOf(name: string): string | undefined {
  return name.startsWith('arn:') ? name.split(':')[3] || undefined : undefined;
}

export class SecretsManagerSecretStore implements SecretStore {
  private readonly clients = new Map<string, SecretsManagerClient>();
  private readonly cache = new Map<string, { readonly value: Promise<string>; readonly expiresAtMs: number }>();
  private readonly ttlMs: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(private readonly options: SecretsManagerSecretStoreOptions = {}) {
    this.ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.now = options.now ?? Date.now;
    if (!Number.isFinite(this.ttlMs) || this.ttlMs < 0) {
      throw new ConfigurationError(`Secrets Manager cache TTL: expected milliseconds >= 0, got ${options.ttlMs}`);
    }
    if (!Number.isFinite(this.timeoutMs) || this.timeoutMs <= 0) {
      throw new ConfigurationError(`Secrets Manager timeout: expected a positive number of milliseconds, got ${options.timeoutMs}`);
    }
  }

  secretString(name: string): Promise<string> {
    const now = this.now();
    const cached = this.cache.get(name);
    if (cached && now < cached.expiresAtMs) return cached.value;
    // Concurrent readers share one GetSecretValue; a failure is not cached.
    const entry = { value: this.fetch(name), expiresAtMs: now + this.ttlMs };
    this.cache.set(name, entry);
    entry.value.catch(() => {
      if (this.cache.get(name) === entry) this.cache.delete(name);
    });
    return entry.value;
  }

  forget(name: string): void {
    this.cache.delete(name);
  }

  private async fetch(name: string): Promise<string> {
    const region = regionOf(name);
    const shown = JSON.stringify(name);
    let secret: string | undefined;
    try {
      const output = await this.client(region).send(new GetSecretValueCommand({ SecretId: name }), {
        abortSignal: AbortSignal.timeout(this.timeoutMs),
      });
      secret = output.SecretString;
    } catch (error) {
      // AWS error messages name the secret and the reason; they never carry its value.
      throw new SecretReadError(`Secrets Manager secret ${shown} cannot be read: ${describe(error, this.timeoutMs)}`);
    }
    if (typeof secret !== 'string') {
      throw new SecretReadError(`Secrets Manager secret ${shown} holds binary data; expected a SecretString`);
    }
    return secret;
  }

  private client(region: string | undefined): SecretsManagerClient {
    const key = region ?? '';
    let client = this.clients.get(key);
    if (!client) {
      client = this.options.createClient?.(region) ?? new SecretsManagerClient({ ...this.options.clientConfig, ...(region ? { region } : {}) });
      this.clients.set(key, client);
    }
    return client;
  }
}

function describe(error: unknown, timeoutMs: number): string {
  if (!(error instanceof Error)) return String(error);
  if (error.name === 'AbortError' || error.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  return `${error.name}: ${error.message}`;
}
