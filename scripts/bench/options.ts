/**
 * The benchmark's command line. Every flag is validated up front so a typo fails in a second, not
 * after a 2 GiB file has been generated.
 */
import { parseArgs } from 'node:util';

export const MIB = 1024 * 1024;

/** The service accepts maxConcurrentConnections 1..20. */
const MAX_CONNECTIONS = 20;

export interface BenchOptions {
  /** The largest size: the source file generated, of which smaller sizes are prefixes. */
  sizeMib: number;
  sizeBytes: number;
  /** Every file size to run, in MiB, in the order given, without duplicates. */
  sizesMib: readonly number[];
  /** Connection counts to run, in the order given, without duplicates. */
  connections: readonly number[];
  skipAria2: boolean;
  skipThrottled: boolean;
  skipUnthrottled: boolean;
  /** Runs per configuration; the report shows the best and the median. */
  repeat: number;
  /** When set, the service runs with `node --cpu-prof` and writes its profiles here (slows it down). */
  cpuProfDir: string | null;
  /** Extra REELIN_* variables for the service, to compare settings. */
  serviceEnv: Readonly<Record<string, string>>;
  /** A PostgreSQL server: run separate API and worker processes on it instead of the embedded database. */
  databaseUrl: string | null;
}

export const usage = `usage: npm run bench:copy -- [options]

  --size-mib LIST       comma-separated file sizes in MiB, each run in turn (default 2048); the
                        issue's set is 256,1024,4096; the largest is generated and the others are
                        its prefixes
  --connections LIST    comma-separated connection counts, 1..${MAX_CONNECTIONS} (default 1,10,20)
  --skip-aria2          do not run the aria2c comparison
  --skip-throttled      do not run the throttled (5 MB/s per connection) runs
  --skip-unthrottled    do not run the unthrottled runs
  --repeat K            runs per configuration; best and median are reported (default 1)
  --cpu-prof DIR        run the service under node --cpu-prof, profiles written to DIR
  --service-env K=V     extra REELIN_* setting for the service (repeatable), to compare settings
  --database-url URL    run reelin api + reelin worker on this PostgreSQL server (a database per run)
                        instead of the embedded database; the figures are then the worker's
  --help                show this text`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Parses argv (without node and the script); throws UsageError with every problem found. */
export function parseBenchOptions(argv: readonly string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      'size-mib': { type: 'string', default: '2048' },
      connections: { type: 'string', default: '1,10,20' },
      'skip-aria2': { type: 'boolean', default: false },
      'skip-throttled': { type: 'boolean', default: false },
      'skip-unthrottled': { type: 'boolean', default: false },
      repeat: { type: 'string', default: '1' },
      'cpu-prof': { type: 'string' },
      'service-env': { type: 'string', multiple: true, default: [] },
      'database-url': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return 'help';
  const problems: string[] = [];
  const sizesMib = parseSizes(values['size-mib'], problems);
  const sizeMib = Math.max(...sizesMib, 1);
  const repeat = parseWholeNumber(values.repeat, '--repeat', { min: 1, max: 100 }, problems);
  const connections = parseConnections(values.connections, problems);
  const serviceEnv = parseServiceEnv(values['service-env'], problems);
  if (values['database-url'] !== undefined && !/^postgres(ql)?:\/\//.test(values['database-url']))
    problems.push('--database-url must be a postgres:// URL');
  if (values['skip-throttled'] && values['skip-unthrottled'])
    problems.push('--skip-throttled and --skip-unthrottled together leave nothing to run');
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  return {
    sizeMib,
    sizeBytes: sizeMib * MIB,
    sizesMib,
    connections,
    skipAria2: values['skip-aria2'],
    skipThrottled: values['skip-throttled'],
    skipUnthrottled: values['skip-unthrottled'],
    repeat,
    cpuProfDir: values['cpu-prof'] ?? null,
    serviceEnv,
    databaseUrl: values['database-url'] ?? null,
  };
}

function parseServiceEnv(entries: readonly string[], problems: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of entries) {
    const match = /^(REELIN_[A-Z0-9_]+)=(.*)$/.exec(entry);
    if (match?.[1] === undefined) problems.push(`--service-env takes REELIN_NAME=value, got ${JSON.stringify(entry)}`);
    else env[match[1]] = match[2] ?? '';
  }
  return env;
}

function parseWholeNumber(text: string, flag: string, range: { min: number; max: number }, problems: string[]): number {
  const value = Number(text);
  if (!/^[0-9]+$/.test(text) || value < range.min || value > range.max) {
    problems.push(`${flag} must be a whole number from ${range.min} to ${range.max}, got ${JSON.stringify(text)}`);
  }
  return value;
}

function parseSizes(text: string, problems: string[]): number[] {
  const items = text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  const bad = items.filter((item) => !/^[0-9]+$/.test(item) || Number(item) < 1 || Number(item) > 1024 * 1024);
  if (items.length === 0 || bad.length > 0)
    problems.push(
      `--size-mib must list sizes from 1 to ${1024 * 1024} MiB, like 256,1024,4096 (bad: ${bad.join(', ') || 'empty'})`,
    );
  return [...new Set(items.map(Number))];
}

function parseConnections(text: string, problems: string[]): number[] {
  const items = text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  const bad = items.filter((item) => !/^[0-9]+$/.test(item) || Number(item) < 1 || Number(item) > MAX_CONNECTIONS);
  if (items.length === 0 || bad.length > 0) {
    problems.push(
      `--connections must list counts from 1 to ${MAX_CONNECTIONS}, like 1,10,20 (bad: ${bad.join(', ') || 'empty'})`,
    );
  }
  return [...new Set(items.map(Number))];
}
