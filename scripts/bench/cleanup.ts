/**
 * Cleanup of everything the benchmark starts or creates (child processes, temporary folders), on a
 * normal end, on a failure and on Ctrl-C. Steps run newest first, like nested `finally` blocks, so
 * a service is stopped before the folder it writes into is removed.
 */

type CleanupStep = () => Promise<void> | void;

export class CleanupStack {
  /** Set once a signal asked the benchmark to stop: failures after that are its consequence, not news. */
  interrupted = false;
  private readonly steps = new Map<number, { label: string; run: CleanupStep }>();
  private nextId = 0;

  /** Registers a step; the returned function runs it now (once) and unregisters it. */
  add(label: string, run: CleanupStep): () => Promise<void> {
    const id = this.nextId++;
    this.steps.set(id, { label, run });
    return async () => {
      const step = this.steps.get(id);
      if (step === undefined) return;
      this.steps.delete(id);
      await step.run();
    };
  }

  /** Runs every remaining step, newest first; a failing step is reported and does not stop the rest. */
  async runAll(): Promise<void> {
    const pending = [...this.steps.entries()].reverse();
    this.steps.clear();
    for (const [, step] of pending) {
      try {
        await step.run();
      } catch (error) {
        console.error(`cleanup: ${step.label} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
}

/**
 * On SIGINT/SIGTERM: clean up, then exit with 128 + signal number. A second signal exits at once,
 * for a cleanup that hangs.
 */
export function cleanUpOnSignals(stack: CleanupStack): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals, code: number) => {
    if (stopping) process.exit(code);
    stopping = true;
    stack.interrupted = true;
    console.error(`\n${signal}: stopping every process the benchmark started and removing its temporary files...`);
    void stack.runAll().finally(() => process.exit(code));
  };
  process.on('SIGINT', () => onSignal('SIGINT', 130));
  process.on('SIGTERM', () => onSignal('SIGTERM', 143));
}
