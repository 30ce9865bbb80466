import { EventEmitter } from 'node:events';

/**
 * A task changed state in the store, in this process or another one. Only what a follower needs to know
 * that it should look again: the store has the rest (the same `{taskId, state, sessionId}` that the
 * PostgreSQL store sends on `warden_tasks`).
 */
export interface TaskChange {
  taskId: string;
  /** The new state as stored: queued, running, succeeded, failed, dead, cancelled, quarantined. */
  state: string;
  sessionId: string;
  /**
   * Committed by this process (the shared feed knows it from the notification; unset on a local feed, which
   * only carries this process's own changes anyway). A follower skips work it already did for its own.
   */
  own?: boolean;
}

/** New log lines of a task were stored. */
export interface LogChange {
  taskId: string;
}

/**
 * The one source of "something changed in the store" for every follower: scheduler wake-ups, waiting
 * `result()` calls, SSE streams. Changes can be missed (a dropped connection, a process that was not
 * listening yet), so a follower always re-reads the store when told, polls at `safetyPollMs`, and
 * re-checks everything it waits for on `resync`.
 * @example
 * const off = feed.onTask((c) => c.taskId === id && void recheck());
 */
export interface ChangeFeed {
  /** 'local': only this process's own changes are pushed; 'shared': every process's changes are. */
  readonly reach: 'local' | 'shared';
  /**
   * How often a follower should still look at the store itself: often when other processes' changes are
   * not pushed (SQLite), rarely when the feed only might have missed some (PostgreSQL).
   */
  readonly safetyPollMs: number;
  onTask(listener: (change: TaskChange) => void): () => void;
  onLog(listener: (change: LogChange) => void): () => void;
  /** The feed may have missed changes (it reconnected): look at everything again. */
  onResync(listener: () => void): () => void;
  /**
   * Tells this process's followers about a change this process committed. A shared feed ignores it: the
   * store announces the change to every process (this one included) in its own transaction.
   */
  publishTask(change: TaskChange): void;
  publishLog(change: LogChange): void;
  /** Whether publishTask would reach anyone (a publisher skips building changes nobody reads). */
  publishesTasks(): boolean;
  close(): Promise<void>;
}

type Events = { task: [TaskChange]; log: [LogChange]; resync: [] };

/** Listener bookkeeping shared by the feeds. */
export abstract class BaseChangeFeed implements ChangeFeed {
  abstract readonly reach: 'local' | 'shared';
  abstract readonly safetyPollMs: number;
  protected readonly emitter = new EventEmitter<Events>();

  constructor() {
    // Every SSE stream is a listener: hundreds are normal, not a leak.
    this.emitter.setMaxListeners(0);
  }

  onTask(listener: (change: TaskChange) => void): () => void {
    this.emitter.on('task', listener);
    return () => this.emitter.off('task', listener);
  }

  onLog(listener: (change: LogChange) => void): () => void {
    this.emitter.on('log', listener);
    return () => this.emitter.off('log', listener);
  }

  onResync(listener: () => void): () => void {
    this.emitter.on('resync', listener);
    return () => this.emitter.off('resync', listener);
  }

  abstract publishTask(change: TaskChange): void;
  abstract publishLog(change: LogChange): void;
  abstract publishesTasks(): boolean;

  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }

  /** Delivers to every listener; one that throws does not keep the change from the others. */
  protected deliver<K extends keyof Events>(event: K, ...args: Events[K]): void {
    for (const listener of this.emitter.listeners(event) as ((...a: Events[K]) => void)[]) {
      try {
        listener(...args);
      } catch {
        // A follower's bug is its own: the feed goes on.
      }
    }
  }
}

/**
 * The embedded store's feed: this process's changes are delivered at once; other processes sharing the
 * SQLite file are seen by the followers' own polls of the store (`safetyPollMs`).
 */
export class LocalChangeFeed extends BaseChangeFeed {
  readonly reach = 'local';

  constructor(readonly safetyPollMs = 250) {
    super();
  }

  publishTask(change: TaskChange): void {
    if (this.emitter.listenerCount('task') > 0) this.deliver('task', change);
  }

  publishesTasks(): boolean {
    return this.emitter.listenerCount('task') > 0;
  }

  publishLog(change: LogChange): void {
    if (this.emitter.listenerCount('log') > 0) this.deliver('log', change);
  }
}
