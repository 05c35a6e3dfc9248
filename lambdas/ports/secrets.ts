// Port: where credentials live outside the manifests and the execution history (AWS Secrets Manager).

export interface SecretStore {
  /**
   * The secret's current string value, named by its name or ARN. May come from a cache. Throws
   * an Error naming the secret, never showing its value, when it cannot be read.
   */
  secretString(name: string): Promise<string>;
  /** Drop a cached value, so that the next read fetches it again (the backend refused it: rotated?). */
  forget(name: string): void;
}

/** A secret could not be read (missing, access denied, unreachable, not a string); the message names it and never shows a value. */
export class SecretReadError extends Error {
  override readonly name = 'SecretReadError';
}
