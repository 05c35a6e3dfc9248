// Port: the one-rollout-per-target lock, held by an execution and kept on the target itself.
import type { RolloutTarget } from './target';

/** Who rolls out what on a target, and when it last showed it was alive. */
export interface LockRecord {
  /** The Step Functions execution holding the lock (its ARN on AWS). */
  readonly execution: string;
  /** The image it rolls out, pinned by digest. */
  readonly image: string;
  readonly acquiredAt: string;
  readonly heartbeatAt: string;
}

export interface RolloutLock {
  /** The current holder, or undefined when the target is free. */
  read(target: RolloutTarget): Promise<LockRecord | undefined>;
  /**
   * Compare-and-set: write `next` only if the lock still is `expected` (undefined: free).
   * Returns false, writing nothing, when someone changed it in between.
   */
  replace(target: RolloutTarget, expected: LockRecord | undefined, next: LockRecord | undefined): Promise<boolean>;
}
