import pg from 'pg';

/**
 * Name of the session-level advisory lock whose holder is a database's maintenance leader (hashed like
 * the migration lock's 'warden_migrations', so the two never collide). An operator finds the leader with
 * `SELECT application_name FROM pg_stat_activity WHERE application_name LIKE 'warden maintenance%'
 * AND pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted)`.
 */
export const MAINTENANCE_LOCK = 'warden_maintenance';
const LOCK_KEY = `hashtextextended('${MAINTENANCE_LOCK}', 0)`;

/** One statement on the leader's own connection. */
export type LeaderQuery = <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => Promise<R[]>;

/** Work the leader does for the whole database, every `everyMs` while it leads. */
export interface MaintenanceDuty {
  name: string;
  everyMs: number;
  /** `final`: the leader is closing, this is its last run before it lets go of the lock. */
  run(query: LeaderQuery, final: boolean): Promise<void>;
}

export interface MaintenanceLeaderOptions {
  url: string;
  /** Shown in pg_stat_activity as `warden maintenance <nodeName>`. */
  nodeName: string;
  duties: readonly MaintenanceDuty[];
  /** How often a follower tries the lock, and a leader checks its connection. @default 2000 */
  retryMs?: number;
  /** Told whenever this node becomes or stops being the leader. */
  onChange?: (leader: boolean) => void;
}

/**
 * The maintenance leader of one PostgreSQL database: whichever node holds a session advisory lock on a
 * connection of its own (outside the pool, so no query ever runs while it is handed to someone else).
 * A follower tries the lock at start and every `retryMs`. Leadership ends with that connection: at close
 * (ending the session frees the lock), when PostgreSQL restarts or kills it (the client errors; the next
 * try reconnects), when the leader is killed (its socket closes and PostgreSQL frees the lock at once), and
 * when the leader hangs or its host vanishes: the leader runs a statement every `retryMs`, and its session
 * sets idle_session_timeout and TCP keepalives, so PostgreSQL ends a session that went quiet and another
 * node takes over. For a moment after such a loss two nodes may both think they lead: duties must be safe
 * to run twice at once (the lock saves work; it is not what makes them correct).
 */
export class MaintenanceLeader {
  private client: pg.Client | undefined;
  private leading = false;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly dutyTimers = new Map<MaintenanceDuty, NodeJS.Timeout>();
  /** The duty runs and connection checks in flight, awaited at close. */
  private readonly running = new Set<Promise<unknown>>();
  private readonly retryMs: number;
  /** Bumped whenever leadership is lost: a duty run scheduled under an older term does nothing. */
  private term = 0;

  private constructor(private readonly options: MaintenanceLeaderOptions) {
    this.retryMs = Math.max(50, options.retryMs ?? 2000);
  }

  /** Starts contending: the first try is awaited (a single node is the leader once this resolves). */
  static async start(options: MaintenanceLeaderOptions): Promise<MaintenanceLeader> {
    const leader = new MaintenanceLeader(options);
    await leader.tick();
    return leader;
  }

  /** Whether this node holds the lock now. */
  get isLeader(): boolean {
    return this.leading;
  }

  /** Stops contending; a leader runs each duty a last time (`final`), then lets go of the lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    for (const t of this.dutyTimers.values()) clearTimeout(t);
    this.dutyTimers.clear();
    await Promise.allSettled([...this.running]);
    const client = this.client;
    if (client && this.leading) {
      const query = this.queryOn(client);
      for (const duty of this.options.duties) await duty.run(query, true).catch(() => undefined);
    }
    this.client = undefined;
    this.lose();
    await client?.end().catch(() => undefined);
  }

  /** One try: connect if needed, take the lock if free, or (leading) check the connection still works. */
  private async tick(): Promise<void> {
    const work = this.tryLead();
    this.running.add(work);
    try {
      await work;
    } catch {
      // PostgreSQL away or the connection broken: not the leader; the next tick reconnects.
      this.dropClient();
    } finally {
      this.running.delete(work);
      if (!this.closed) {
        this.retryTimer = setTimeout(() => void this.tick(), this.retryMs);
        // Contending never holds a library user's process open (a worker is held by its scheduler).
        this.retryTimer.unref();
      }
    }
  }

  private async tryLead(): Promise<void> {
    const client = this.client ?? (await this.connect());
    if (this.closed) return;
    if (this.leading) {
      // The statement that keeps the session from being ended as idle, and finds a dead connection.
      await client.query('SELECT 1');
      return;
    }
    const { rows } = await client.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(${LOCK_KEY}) AS ok`);
    if (rows[0]?.ok !== true || this.closed) return;
    this.leading = true;
    this.options.onChange?.(true);
    for (const duty of this.options.duties) this.schedule(duty, 0, this.term);
  }

  private async connect(): Promise<pg.Client> {
    const idleMs = this.retryMs * 5;
    const client = new pg.Client({
      connectionString: this.options.url,
      keepAlive: true,
      connectionTimeoutMillis: Math.max(1000, this.retryMs),
      // A check that does not answer within the retry period means the connection is gone.
      query_timeout: Math.max(1000, this.retryMs * 2),
      application_name: `warden maintenance ${this.options.nodeName}`.slice(0, 63),
    });
    // Without a listener, a dropped connection's 'error' would crash the process.
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      // PostgreSQL ends the session of a leader that went quiet (hung, paused, its host gone without a
      // goodbye) and so frees the lock: idle_session_timeout (PostgreSQL 14+) and TCP keepalives. Where a
      // setting is unknown (an older server), the others still apply.
      for (const setting of [
        `SET idle_session_timeout = ${idleMs}`,
        'SET tcp_keepalives_idle = 5',
        'SET tcp_keepalives_interval = 2',
        'SET tcp_keepalives_count = 3',
        `SET tcp_user_timeout = ${idleMs}`,
      ])
        await client.query(setting).catch(() => undefined);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    (client as unknown as { connection?: { stream?: { unref?: () => void } } }).connection?.stream?.unref?.();
    if (this.closed) {
      await client.end().catch(() => undefined);
      throw new Error('closed');
    }
    this.client = client;
    return client;
  }

  private schedule(duty: MaintenanceDuty, delayMs: number, term: number): void {
    const timer = setTimeout(() => {
      if (this.closed || !this.leading || term !== this.term || !this.client) return;
      const run = duty
        .run(this.queryOn(this.client), false)
        .catch(() => undefined) // retried on the next run
        .finally(() => {
          this.running.delete(run);
          if (!this.closed && this.leading && term === this.term) this.schedule(duty, duty.everyMs, term);
        });
      this.running.add(run);
    }, delayMs);
    timer.unref();
    this.dutyTimers.set(duty, timer);
  }

  private queryOn(client: pg.Client): LeaderQuery {
    return async <R extends pg.QueryResultRow>(text: string, values?: unknown[]) =>
      (await client.query<R>(text, values)).rows;
  }

  /** The lock connection errored or ended: whatever lock it held is gone with it. */
  private lost(client: pg.Client): void {
    if (this.client !== client) return;
    this.dropClient();
  }

  private dropClient(): void {
    const client = this.client;
    this.client = undefined;
    this.lose();
    void client?.end().catch(() => undefined);
  }

  private lose(): void {
    for (const t of this.dutyTimers.values()) clearTimeout(t);
    this.dutyTimers.clear();
    this.term++;
    if (!this.leading) return;
    this.leading = false;
    this.options.onChange?.(false);
  }
}
