// A polling loop that never overlaps itself and never keeps the process alive on its own.

export interface Poller {
  /** Run one pass now (after any pass in flight) and wait for it. */
  tick(): Promise<void>;
  /** Stop polling and wait for the pass in flight. */
  stop(): Promise<void>;
}

/**
 * Call `pass` every `intervalMs`, measured from the end of the previous pass, so a slow API
 * server slows the loop down instead of piling up requests. Errors go to `onError`: a poller
 * keeps its last good state, as a controller does when the API server is briefly away.
 */
export function startPoller(pass: () => Promise<void>, intervalMs: number, onError: (error: unknown) => void = () => {}): Poller {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const run = (): Promise<void> => {
    running = running.then(async () => {
      if (stopped) return;
      try {
        await pass();
      } catch (error) {
        onError(error);
      }
    });
    return running;
  };

  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      void run().then(schedule);
    }, intervalMs);
    // The loop serves servers that keep the process alive; alone it must not.
    timer.unref();
  };

  void run().then(schedule);

  return {
    tick: run,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
