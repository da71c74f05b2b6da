/** The timers of the webhook worker: a loop that runs its work on an interval or when woken, and a wait until an instant. */

/** A loop that runs `work`, then sleeps `intervalMs` or until woken. */
export class Loop {
  private wakeUp: (() => void) | null = null;
  private woken = false;
  readonly done: Promise<void>;

  constructor(
    private readonly stopSignal: AbortSignal,
    intervalMs: number,
    work: () => Promise<void>,
    onError: (error: unknown) => void,
  ) {
    this.done = (async () => {
      while (!stopSignal.aborted) {
        this.woken = false;
        try {
          await work();
        } catch (error) {
          if (!stopSignal.aborted) onError(error);
        }
        if (!this.woken) await this.sleep(intervalMs);
      }
    })();
  }

  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.stopSignal.removeEventListener('abort', finish);
        this.wakeUp = null;
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.stopSignal.addEventListener('abort', finish, { once: true });
      this.wakeUp = finish;
    });
  }
}

/** Waits `ms` (nothing when it is not positive); resolves early, never rejects, when `signal` aborts. */
export function sleepOrStop(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', finish);
      resolve();
    };
    const timer = setTimeout(finish, ms);
    signal.addEventListener('abort', finish, { once: true });
  });
}
