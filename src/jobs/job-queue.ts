/**
 * The job queue, on pg-boss over the service's own database (PostgreSQL or PGlite). Jobs are sent
 * inside the caller's transaction, so a job exists exactly when the state change that asks for it
 * committed. Queues use LISTEN/NOTIFY so an idle worker picks up a new job within milliseconds;
 * polling stays on as the backstop.
 */
import { sql } from 'drizzle-orm';
import { PgBoss, fromDrizzle, fromPglite } from 'pg-boss';
import type { Logger } from 'pino';
import type { Database, DatabaseConnection } from '../db/database.js';
import { jobNames, jobPolicies, type JobHandlers, type JobName, type JobPayloads } from './catalog.js';

export interface SendOptions {
  /** The job's group (its team): a worker claims at most its queue's `groupConcurrency` of one group at once. */
  groupId?: string;
  /** Not claimed before this many seconds from now. */
  startAfterSeconds?: number;
}

export interface JobQueue {
  /** Enqueues a job in the transaction `tx`. */
  send<N extends JobName>(tx: Database, name: N, payload: JobPayloads[N], options?: SendOptions): Promise<void>;
  /** Cancels, in `tx`, the queued (not yet running) jobs of `name` whose singleton key is `key`; resolves with how many. */
  cancelQueued(tx: Database, name: JobName, key: string): Promise<number>;
  /**
   * Calls off the running job `jobId` and queues the same work again to start later, in `tx`: the
   * attempt ends cancelled (not completed, and no retry used), and a new job takes its place.
   */
  requeueLater<N extends JobName>(
    tx: Database,
    name: N,
    jobId: string,
    payload: JobPayloads[N],
    options: SendOptions & { startAfterSeconds: number },
  ): Promise<void>;
}

export interface QueueOptions {
  /** Whether this process runs the maintenance that retries jobs of dead workers. */
  supervise: boolean;
  superviseIntervalSeconds: number;
  pollIntervalSeconds: number;
}

export interface WorkOptions {
  concurrency: { [N in JobName]: number };
  /** Jobs of one group (team) the queue hands out at once across every worker; absent: no limit. */
  groupConcurrency?: Partial<Record<JobName, number>>;
}

export class PgBossJobQueue implements JobQueue {
  private readonly workerIds: string[] = [];

  private constructor(
    private readonly boss: PgBoss,
    private readonly options: QueueOptions,
    private readonly log: Logger,
  ) {}

  static async start(connection: DatabaseConnection, options: QueueOptions, log: Logger): Promise<PgBossJobQueue> {
    const common = {
      useListenNotify: true,
      supervise: options.supervise,
      superviseIntervalSeconds: options.superviseIntervalSeconds,
      // Jobs of dead workers (stale heartbeats) are failed over in the monitor pass, so it runs as
      // often as supervision does.
      monitorIntervalSeconds: options.superviseIntervalSeconds,
      schedule: false,
      instanceName: options.supervise ? 'reelin-worker' : 'reelin-api',
    };
    const boss =
      connection.kind === 'pglite'
        ? new PgBoss({ ...common, db: fromPglite(connection.pglite), backend: 'pglite' })
        : new PgBoss({ ...common, connectionString: connection.url, max: 10 });
    boss.on('error', (error) => log.error({ err: error }, 'job queue error'));
    boss.on('warning', (warning) => log.warn({ warning }, 'job queue warning'));
    await boss.start();
    const queue = new PgBossJobQueue(boss, options, log);
    try {
      await queue.ensureQueues();
    } catch (error) {
      await boss.stop({ graceful: false, close: true });
      throw error;
    }
    return queue;
  }

  /** Creates or updates every queue of the catalog (dead-letter targets first). */
  private async ensureQueues(): Promise<void> {
    const ordered = [...jobNames].sort(
      (a, b) => Number(jobPolicies[a].deadLetter !== null) - Number(jobPolicies[b].deadLetter !== null),
    );
    for (const name of ordered) {
      const policy = jobPolicies[name];
      const options = {
        policy: policy.singletonKeyOf === null ? 'standard' : 'stately',
        retryLimit: policy.retryLimit,
        retryDelay: policy.retryDelaySeconds,
        retryBackoff: true,
        retryDelayMax: policy.retryDelayMaxSeconds,
        expireInSeconds: policy.expireInSeconds,
        notify: true,
        ...(policy.heartbeatSeconds === null ? {} : { heartbeatSeconds: policy.heartbeatSeconds }),
        ...(policy.deadLetter === null ? {} : { deadLetter: policy.deadLetter }),
      };
      // A queue's policy is fixed when it is created; the rest follows the catalog on every start.
      const { policy: _policy, ...updatable } = options;
      if (await this.boss.getQueue(name)) {
        await this.boss.updateQueue(name, updatable);
        continue;
      }
      try {
        await this.boss.createQueue(name, options);
      } catch (error) {
        // Another process created it between our check and our create.
        if (!(await this.boss.getQueue(name))) throw error;
        await this.boss.updateQueue(name, updatable);
      }
    }
  }

  async send<N extends JobName>(
    tx: Database,
    name: N,
    payload: JobPayloads[N],
    options: SendOptions = {},
  ): Promise<void> {
    const keyOf = jobPolicies[name].singletonKeyOf as ((payload: JobPayloads[N]) => string) | null;
    await this.boss.send(name, payload, {
      db: fromDrizzle(tx as never, sql),
      ...(keyOf ? { singletonKey: keyOf(payload) } : {}),
      ...(options.groupId === undefined ? {} : { group: { id: options.groupId } }),
      ...(options.startAfterSeconds === undefined ? {} : { startAfter: options.startAfterSeconds }),
    });
  }

  async requeueLater<N extends JobName>(
    tx: Database,
    name: N,
    jobId: string,
    payload: JobPayloads[N],
    options: SendOptions & { startAfterSeconds: number },
  ): Promise<void> {
    // Cancelled first, so the queue's one-running-one-waiting policy has room for the new job. The
    // handler then returns and pg-boss's completion finds the job no longer active and leaves it.
    await this.boss.cancel(name, jobId, { db: fromDrizzle(tx as never, sql) });
    await this.send(tx, name, payload, options);
  }

  async cancelQueued(tx: Database, name: JobName, key: string): Promise<number> {
    const db = fromDrizzle(tx as never, sql);
    const queued = await this.boss.findJobs(name, { key, queued: true, db });
    if (queued.length === 0) return 0;
    await this.boss.cancel(
      name,
      queued.map((job) => job.id),
      { db },
    );
    return queued.length;
  }

  /** Starts taking jobs with the given handlers. */
  async work(handlers: JobHandlers, options: WorkOptions): Promise<void> {
    for (const name of jobNames) {
      const handler = handlers[name] as (
        payload: unknown,
        context: { jobId: string; signal: AbortSignal },
      ) => Promise<void>;
      const id = await this.boss.work<JobPayloads[typeof name]>(
        name,
        {
          localConcurrency: options.concurrency[name],
          ...(options.groupConcurrency?.[name] === undefined
            ? {}
            : { groupConcurrency: options.groupConcurrency[name] }),
          batchSize: 1,
          pollingIntervalSeconds: this.options.pollIntervalSeconds,
          notifyPollingIntervalSeconds: this.options.pollIntervalSeconds,
        },
        async ([job]) => {
          if (!job) return;
          try {
            await handler(job.data, { jobId: job.id, signal: job.signal });
          } catch (error) {
            this.log.error({ err: error, job: name, jobId: job.id }, 'job failed; it will be retried');
            throw error;
          }
        },
      );
      this.workerIds.push(id);
    }
  }

  /** Stops taking new jobs; running handlers get `timeoutMs` to finish before their signal aborts. */
  async stop(timeoutMs: number): Promise<void> {
    await this.boss.stop({ graceful: true, timeout: Math.max(timeoutMs, 1), close: true });
    this.log.debug('job queue stopped');
  }

  async ping(): Promise<void> {
    await this.boss.getQueue('copy-video');
  }
}
