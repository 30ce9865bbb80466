import type { Client } from 'pg';
import { WardenError } from '../core/index.js';
import { BaseChangeFeed, type LogChange, type TaskChange } from './change-feed.js';

/** The channels the PostgreSQL store notifies on, in the transaction of each change. */
export const TASK_CHANNEL = 'warden_tasks';
export const LOG_CHANNEL = 'warden_logs';

export interface PostgresChangeFeedOptions {
  url: string;
  /** How often followers still poll the store, for a notification lost between a drop and a resync. @default 2000 */
  safetyPollMs?: number;
  /** First reconnect delay; doubles up to maxReconnectDelayMs. @default 100 */
  reconnectDelayMs?: number;
  /** @default 5000 */
  maxReconnectDelayMs?: number;
  /** This process's tag in the store's notifications (see PostgresStoreOptions.origin): marks its own changes. */
  origin?: string;
}

/**
 * Every process's task changes, from `LISTEN warden_tasks` / `LISTEN warden_logs` on one dedicated
 * connection (a pooled one would be handed to a query and stop listening). When that connection drops
 * (PostgreSQL restarted, the network failed) it reconnects with backoff and then emits `resync`:
 * notifications sent while nobody listened are gone, so followers re-read what they wait for.
 */
export class PostgresChangeFeed extends BaseChangeFeed {
  readonly reach = 'shared';
  readonly safetyPollMs: number;
  private client: Client | undefined;
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  /** Connections made so far (1 after open; each reconnect adds one): tests and logs read it. */
  connections = 0;

  private constructor(private readonly options: PostgresChangeFeedOptions) {
    super();
    this.safetyPollMs = options.safetyPollMs ?? 2000;
  }

  /** Connects and listens; throws STORAGE_ERROR when PostgreSQL cannot be reached now. */
  static async open(options: PostgresChangeFeedOptions): Promise<PostgresChangeFeed> {
    const feed = new PostgresChangeFeed(options);
    try {
      await feed.connect();
    } catch (cause) {
      throw new WardenError(
        'STORAGE_ERROR',
        `Cannot listen for task changes on ${redactUrl(options.url)}: ${(cause as Error).message}`,
        { cause },
      );
    }
    return feed;
  }

  // The store announces every change to every listener, this process included: nothing to do here.
  publishTask(_change: TaskChange): void {}
  publishLog(_change: LogChange): void {}
  publishesTasks(): boolean {
    return false;
  }

  override async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = undefined;
    await super.close();
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const { default: pg } = await import('pg');
    const client = new pg.Client({
      connectionString: this.options.url,
      keepAlive: true,
      connectionTimeoutMillis: 5000,
      application_name: 'warden change feed',
    });
    // Without a listener, a dropped connection's 'error' would crash the process.
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    client.on('notification', (n) => this.onNotification(n.channel, n.payload));
    try {
      await client.connect();
      await client.query(`LISTEN ${TASK_CHANNEL}; LISTEN ${LOG_CHANNEL}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    // Listening never holds a library user's process open (a worker is held by its scheduler).
    (client as unknown as { connection?: { stream?: { unref?: () => void } } }).connection?.stream?.unref?.();
    this.client = client;
    this.connections++;
  }

  private onNotification(channel: string, payload: string | undefined): void {
    let data: unknown;
    try {
      data = JSON.parse(payload ?? '');
    } catch {
      return; // not ours (someone else notifying on the channel): ignore
    }
    if (typeof data !== 'object' || data === null) return;
    const taskId = (data as { taskId?: unknown }).taskId;
    if (typeof taskId !== 'string') return;
    if (channel === TASK_CHANNEL) {
      const { state, sessionId, o } = data as { state?: unknown; sessionId?: unknown; o?: unknown };
      this.deliver('task', {
        taskId,
        state: typeof state === 'string' ? state : '',
        sessionId: typeof sessionId === 'string' ? sessionId : '',
        ...(this.options.origin !== undefined && o === this.options.origin ? { own: true } : {}),
      });
    } else if (channel === LOG_CHANNEL) {
      this.deliver('log', { taskId });
    }
  }

  /** The listening connection is gone: reconnect with backoff, then tell followers to re-read. */
  private lost(client: Client): void {
    if (this.closed || this.client !== client) return;
    this.client = undefined;
    void client.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    const base = this.options.reconnectDelayMs ?? 100;
    const max = this.options.maxReconnectDelayMs ?? 5000;
    const delay = Math.min(max, base * 2 ** this.attempt++);
    // Jitter: a restarted PostgreSQL is not met by every worker of the cluster in the same millisecond.
    this.reconnectTimer = setTimeout(
      () => {
        this.connect().then(
          () => {
            if (this.closed) return;
            this.attempt = 0;
            this.deliver('resync');
          },
          () => this.scheduleReconnect(),
        );
      },
      delay * (0.75 + Math.random() * 0.5),
    );
    // A reconnecting feed does not keep a library user's process alive by itself.
    this.reconnectTimer.unref();
  }
}

/** A connection string with its password masked, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/:[^:@/]*@/, ':***@');
}
