// Fault injection for the Kubernetes API emulator: error answers, late answers and connection resets, for testing retries.

export interface FaultSpec {
  /** HTTP method to match (`GET`, `PUT`…); any method when absent. */
  readonly method?: string;
  /** Substring of the request path and query to match; any request when absent. */
  readonly pathIncludes?: string;
  /** Status to answer with (500, 429, 409, 503…), as a Kubernetes Status; when absent the request is handled normally after `delayMs`. */
  readonly status?: number;
  /** How many matching requests the fault applies to. @default Infinity */
  readonly times?: number;
  /** Answer this late (before the fault status or the normal answer). */
  readonly delayMs?: number;
  /** Response body instead of the Status the real server would send for `status`. */
  readonly body?: object;
  /**
   * Runs (and is awaited) when the fault matches, before the answer: lets a test change
   * objects between a client's read and its write, a real concurrent modification.
   */
  readonly onMatch?: () => void | Promise<void>;
}

export interface Fault extends FaultSpec {
  readonly id: string;
  /** Requests this fault has answered so far. */
  hits: number;
}

export class FaultInjector {
  private readonly faults: Fault[] = [];
  private nextId = 1;
  private downUntil = 0;

  /** Add a fault; the first matching fault with budget left applies. Returns its id for `remove`. */
  add(spec: FaultSpec): string {
    const id = `fault-${this.nextId++}`;
    this.faults.push({ ...spec, id, hits: 0 });
    return id;
  }

  remove(id: string): void {
    const index = this.faults.findIndex((fault) => fault.id === id);
    if (index >= 0) this.faults.splice(index, 1);
  }

  /** Remove every fault and bring the server back up. */
  clear(): void {
    this.faults.length = 0;
    this.downUntil = 0;
  }

  /** Reset every connection for the next `ms` milliseconds, like an API server that is restarting. */
  down(ms: number): void {
    this.downUntil = Date.now() + ms;
  }

  isDown(): boolean {
    return Date.now() < this.downUntil;
  }

  /** Faults currently installed, with their hit counts. */
  list(): readonly Fault[] {
    return this.faults;
  }

  /** The fault for this request, consuming one of its `times`. */
  take(method: string, pathAndQuery: string): Fault | undefined {
    const fault = this.faults.find(
      (candidate) =>
        (candidate.method === undefined || candidate.method.toUpperCase() === method.toUpperCase()) &&
        (candidate.pathIncludes === undefined || pathAndQuery.includes(candidate.pathIncludes)) &&
        candidate.hits < (candidate.times ?? Infinity),
    );
    if (fault) fault.hits += 1;
    return fault;
  }
}
