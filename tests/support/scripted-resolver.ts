/**
 * A DNS resolver for tests: answers from a script per host name and counts the questions, so a
 * test can prove that the service asked once and never again (DNS rebinding).
 */
import type { HostResolver } from '../../src/net/resolver.js';

export class ScriptedResolver implements HostResolver {
  readonly calls: string[] = [];
  private readonly answers = new Map<string, string[][]>();

  /** Answers `hostname` with `first`, then with each of `later` in turn (the last one repeats). */
  set(hostname: string, first: string[], ...later: string[][]): this {
    this.answers.set(hostname, [first, ...later]);
    return this;
  }

  callsFor(hostname: string): number {
    return this.calls.filter((name) => name === hostname).length;
  }

  async resolve(hostname: string): Promise<string[]> {
    this.calls.push(hostname);
    const script = this.answers.get(hostname);
    if (!script) return [];
    const index = Math.min(this.callsFor(hostname) - 1, script.length - 1);
    return script[index] ?? [];
  }
}
