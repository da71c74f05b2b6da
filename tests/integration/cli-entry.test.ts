import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

function reelin(...args: string[]) {
  return run(process.execPath, ['--import', 'tsx', path.join(root, 'src/main.ts'), ...args], { cwd: root });
}

describe('the reelin command', () => {
  it('prints the version of its package with --version', async () => {
    const manifest = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { version: string };
    const { stdout } = await reelin('--version');
    expect(stdout).toBe(`reelin ${manifest.version}\n`);
  });

  it('says what each role does with --help, the worker included', async () => {
    const { stdout } = await reelin('--help');
    expect(stdout).toMatch(/^usage: reelin \[serve \| api \| worker \| migrate \| rotate-webhook-keys\]/);
    expect(stdout).toContain('cuts the\n           free clips');
    expect(stdout).toContain('rotate-webhook-keys');
  });

  it('refuses an unknown role with the usage and exit code 2', async () => {
    const failure = await reelin('serv').then(
      () => null,
      (error: unknown) => error as { code: number; stderr: string },
    );
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toMatch(/^usage: reelin/);
  });
});
