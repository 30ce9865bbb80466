import { EventEmitter } from 'node:events';
import {
  CLOSED_BREAKER,
  WardenError,
  applyBreakerOutcomes,
  backoffDelayMs,
  breakerAdmission,
  coerceError,
  sameBreaker,
  type BreakerOutcome,
  type BreakerSnapshot,
  type ResourceLimits,
  type Session,
  type TaskResult,
} from '../core/index.js';
import { sha256Hex } from '../provenance/index.js';
import type { ChangeFeed } from '../store/index.js';
import type { LogLine } from './log-port.js';
import type {
  BreakerOutcomes,
  BreakerUpdate,
  ClaimOutcome,
  ClaimRequest,
  ClaimedTask,
  Finish,
  NewTask,
  SchedulerStore,
  SubmitOutcome,
} from './queue-port.js';
import type { AgentDirectory } from './agent-directory.js';
import type { TaskEvent, TaskEventState, TokenEvent } from './events.js';
import { compileSchedulerOptions, type CompiledSchedulerOptions, type SchedulerOptions } from './options.js';
import { Batcher } from './batcher.js';
import type { GateDecision, TaskGate } from '../governance/index.js';
import type { AttemptTrace, ClaimTiming, SchedulerTracer } from './tracing-port.js';
import { LazyAbortController } from './lazy-abort.js';
import { AttemptContext } from './attempt-context.js';

interface InFlight {
  task: ClaimedTask;
  controller: LazyAbortController;
  logLine: number;
}

interface Waiter {
  resolve(result: TaskResult | undefined): void;
}

/**
 * The durable scheduler of one process. Submits, claims and finishes are group-committed: every caller
 * in the same turn of the event loop shares one transaction, and nobody is answered before it commits.
 */
export class Scheduler {
  readonly events = new EventEmitter<{ task: [TaskEvent]; log: [LogLine]; token: [TokenEvent] }>();
  readonly options: CompiledSchedulerOptions;
  private readonly inFlight = new Map<string, InFlight>();
  /** Tasks that left inFlight and whose finish is being committed (their waiters are settled by it). */
  private readonly finishing = new Set<string>();
  private readonly waiters = new Map<string, Waiter[]>();
  private breakers = new Map<string, BreakerSnapshot>();
  private readonly submits: Batcher<NewTask, SubmitOutcome>;
  private readonly finishes: Batcher<Finish, boolean>;
  private pendingLogsBuffer: LogLine[] = [];
  private running = false;
  /** Set once stop() is done: nobody may start waiting for a result any more. */
  private stopped = false;
  private pumping = false;
  private pumpAgain = false;
  /**
   * The last claim took everything due for this worker (the store's `drained` hint) and no new work was
   * signalled since: a slot freed by a finish then has nothing to claim, so no claim is sent for it.
   * `signals` counts wake-ups, so that a claim racing a new submit does not set it.
   */
  private queueDrained = false;
  private signals = 0;
  /** The last submit batch claimed everything due in its own transaction (see writeSubmits). */
  private submitsClaimed = false;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt = Infinity;
  private housekeeping: NodeJS.Timeout[] = [];
  private lastRefresh = 0;
  private slotsHeld = 0;
  /** Sessions of running tasks, read once: a session's settings never change. */
  private readonly sessions = new Map<string, Session | null>();
  /**
   * Agent versions whose provider asked us to wait (a 429 or 503 with Retry-After): none of their tasks is
   * claimed before then, so a rate limit is not answered by a burst of requests that all hit it again.
   */
  private readonly pausedUntil = new Map<string, number>();
  /** Per session: whether generated text may be streamed before governance screens the output. */
  private readonly sessionStreams = new Map<string, boolean>();
  private resultPoll: NodeJS.Timeout | undefined;
  /** Unsubscribes from the change feed (set while subscribed). */
  private unfollow: (() => void) | undefined;
  /** Governance hook (src/governance): sees each outcome before it is committed. Unset: no governance. */
  gate: TaskGate | undefined;
  /** Tracing hook (src/telemetry): spans of each attempt. Unset (tracing off): no call, no clock read. */
  tracer: SchedulerTracer | undefined;
  /**
   * Memory hook (src/memory): told of each success this process committed (its output passed the gate),
   * before the task's waiters hear of it. It must not throw; a promise it returns is awaited.
   */
  afterSucceeded:
    | ((task: {
        taskId: string;
        sessionId: string;
        agentKey: string;
        outputJson: string;
      }) => Promise<void> | undefined)
    | undefined;

  /**
   * `feed` carries every process's task changes: this scheduler publishes its own into it, and when the
   * feed is shared (PostgreSQL) it wakes on other processes' submits and settles results they committed.
   */
  constructor(
    private readonly store: SchedulerStore,
    private readonly agents: AgentDirectory,
    options: SchedulerOptions = {},
    private readonly feed?: ChangeFeed,
  ) {
    this.options = compileSchedulerOptions(options);
    this.follow();
    this.submits = new Batcher(
      (batch) => this.writeSubmits(batch),
      () => {
        // A submit that claimed everything due itself leaves nothing for a claim to find.
        if (this.submitsClaimed) this.submitsClaimed = false;
        else this.wake();
      },
      // A submit that fails (a rolled-back transaction) is retried without its neighbours: one bad task
      // must not fail the other callers, possibly other tenants, that shared its group commit.
      { isolateFailures: true, maxInFlight: () => this.writesInFlight() },
    );
    this.finishes = new Batcher((batch) => this.commitFinishes(batch), undefined, {
      maxInFlight: () => this.writesInFlight(),
    });
  }

  /**
   * Two batches in flight when the store commits on a thread of its own, in call order: the scheduler
   * prepares the next batch while the store commits one. One otherwise (a store on this thread is done with
   * a batch before its call returns; PostgreSQL would run two batches' transactions concurrently).
   */
  private writesInFlight(): number {
    return this.store.pipelinesWrites?.() === true ? 2 : 1;
  }

  /** Whether the task is running in this process, or its finish is being committed here. */
  runsHere(taskId: string): boolean {
    return this.inFlight.has(taskId) || this.finishing.has(taskId);
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  get runnableAgentCount(): number {
    return this.agents.runnableKeys().length;
  }

  runnableKeys(): readonly string[] {
    return this.agents.runnableKeys();
  }

  /** The runtime of an agent version this process knows, if any. */
  runtimeOf(agentKey: string): string | undefined {
    return this.agents.manifest(agentKey)?.runtime;
  }

  /** Durably enqueues a task; resolves once it is committed. */
  enqueue(task: NewTask): Promise<SubmitOutcome> {
    const committed = this.submits.push(task);
    const feed = this.feed;
    // The hot path: nobody follows this process's submits (a shared feed hears them from the store).
    if (!feed?.publishesTasks()) return committed;
    return committed.then((outcome) => {
      if (!outcome.deduplicated)
        feed.publishTask({ taskId: outcome.task.id, state: 'queued', sessionId: task.sessionId });
      return outcome;
    });
  }

  /**
   * Commits a batch of submits. Into a queue known to be empty, with workers free here, the same transaction
   * also claims for them: the task starts running after one commit instead of a submit's and a claim's.
   * Otherwise (work is waiting, or no slot is free) the submit only enqueues and wakes the claim loop.
   */
  private async writeSubmits(batch: NewTask[]): Promise<SubmitOutcome[]> {
    const free = this.options.concurrency - this.inFlight.size - this.slotsHeld;
    if (!this.running || this.pumping || !this.queueDrained || free <= 0) return this.store.submit(batch);
    // The slots are held for the length of the transaction, so a claim running meanwhile cannot take them too.
    const reserved = Math.min(free, batch.length);
    this.slotsHeld += reserved;
    try {
      const now = this.options.clock.now();
      const signals = this.signals;
      const t0 = this.tracer ? performance.now() : 0;
      const { outcomes, next } = await this.store.submitAndClaim(batch, this.claimRequest(now, reserved));
      this.launchClaimed(next, now, this.tracer ? claimTiming(t0, 'submit', next) : undefined);
      if (next.drained === true && signals === this.signals) {
        this.queueDrained = true;
        this.submitsClaimed = true;
      }
      return outcomes;
    } finally {
      this.slotsHeld -= reserved;
    }
  }

  /**
   * Listens to a shared feed: a submit (or retry, replay, release) anywhere wakes the claim loop, and a
   * terminal state anywhere settles whoever waits here. A local feed only carries this process's own
   * changes, which the scheduler already handles directly: it is not followed.
   */
  private follow(): void {
    const feed = this.feed;
    if (!feed || feed.reach !== 'shared' || this.unfollow) return;
    const offTask = feed.onTask((c) => {
      // Its own submits woke it when they committed: an echo would only cost an empty claim.
      if (c.state === 'queued') {
        if (!c.own) this.wake();
      } else if (TERMINAL.has(c.state) && this.waiters.has(c.taskId) && !this.runsHere(c.taskId))
        void this.store.getResult(c.taskId).then(
          (r) => r && this.settle(c.taskId, r),
          () => undefined,
        );
    });
    // Notifications sent while the feed reconnected are lost: look at the queue and every waiter again.
    const offResync = feed.onResync(() => {
      this.wake();
      void this.recheckWaiters();
    });
    this.unfollow = () => {
      offTask();
      offResync();
      this.unfollow = undefined;
    };
  }

  /** Looks up the results of every task waited for (after the feed may have missed their changes). */
  private async recheckWaiters(): Promise<void> {
    const ids = [...this.waiters.keys()];
    for (let i = 0; i < ids.length; i += RESULT_POLL_BATCH) {
      const results = await this.store.getResults(ids.slice(i, i + RESULT_POLL_BATCH)).catch(() => []);
      for (const r of results) this.settle(r.taskId, r);
    }
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.stopped = false;
    this.follow();
    this.breakers = await this.store.getBreakers();
    const o = this.options;
    this.housekeeping = [setInterval(() => void this.heartbeat(), o.heartbeatMs)];
    if (o.reapLeases) this.housekeeping.push(setInterval(() => void this.reap(), o.reapIntervalMs));
    // A library's timers never hold its user's process open; a dedicated worker process asks to be held
    // (keepAlive): one ref'd interval, released by stop(), is what keeps it waiting for work.
    for (const t of this.housekeeping) t.unref();
    if (o.keepAlive) this.housekeeping[0]!.ref();
    if (o.reapLeases) await this.reap();
    this.wake();
  }

  /** Stops claiming, lets running tasks finish for up to shutdownGraceMs, then hands the rest back to the queue. */
  async stop(): Promise<void> {
    if (!this.running) {
      await this.submits.drain();
      this.stopWaiting();
      return;
    }
    this.running = false;
    for (const t of this.housekeeping) clearInterval(t);
    clearTimeout(this.wakeTimer);
    await this.submits.drain();
    // Real time, not the clock: the grace period is waited for with real timers (a test's clock stands still).
    const deadline = Date.now() + this.options.shutdownGraceMs;
    while (this.inFlight.size > 0 && Date.now() < deadline) await sleep(10);
    for (const f of this.inFlight.values()) {
      f.controller.abort(
        new WardenError('CLOSED', 'Warden shut down while the task ran; it goes back to the queue'),
      );
    }
    while (this.inFlight.size > 0) await sleep(5);
    await this.finishes.drain();
    await this.flushLogs();
    // Last: results of tasks that finished within the grace period reached their waiters.
    this.stopWaiting();
  }

  /** Wakes the claim loop now (new work, freed slots, or a test that moved its clock). */
  wake(): void {
    this.signals++;
    this.queueDrained = false;
    this.pumpFreedSlots();
  }

  /** Claims for free slots, unless the queue is known to hold nothing for them. */
  private pumpFreedSlots(): void {
    if (!this.running || this.queueDrained) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    void this.pump();
  }

  async cancel(taskId: string): Promise<{ state: string; cancelledNow: boolean }> {
    const out = await this.store.cancel(taskId, this.options.clock.now());
    const local = this.inFlight.get(taskId);
    if (local) local.controller.abort(new WardenError('CANCELLED', 'The task was cancelled'));
    if (out.cancelledNow) {
      const task = await this.store.getTask(taskId);
      if (task) this.feed?.publishTask({ taskId, state: 'cancelled', sessionId: task.sessionId });
      const result = await this.store.getResult(taskId);
      if (result) this.settle(taskId, result);
    }
    return out;
  }

  /**
   * Resolves with the task's result once it is terminal, whichever process runs it; undefined once
   * timeoutMs has passed, or stop() is done. While anyone waits, the process stays alive (a retry's backoff
   * has no other handle to keep it).
   */
  async waitForResult(taskId: string, timeoutMs = Infinity): Promise<TaskResult | undefined> {
    // A task running here settles its waiters when its finish commits (or, if the finish is refused, from
    // what is stored): no need to look in the store first.
    const local = this.runsHere(taskId);
    return new Promise<TaskResult | undefined>((resolve) => {
      if (this.stopped) return resolve(undefined);
      let timer: NodeJS.Timeout | undefined;
      const waiter: Waiter = {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
      };
      const list = this.waiters.get(taskId);
      if (list) list.push(waiter);
      else this.waiters.set(taskId, [waiter]);
      if (Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => {
          this.removeWaiter(taskId, waiter);
          resolve(undefined);
        }, timeoutMs);
      }
      // Registered before the first look, so a result committed in between is not missed.
      if (!local)
        void this.store.getResult(taskId).then(
          (r) => r && this.settle(taskId, r),
          () => undefined,
        );
      this.startResultPoll();
    });
  }

  /**
   * Results committed by other processes have no in-process event: one shared poller looks them up in
   * batches (round-robin over the waiters), instead of a timer per waiter.
   */
  private startResultPoll(): void {
    if (this.resultPoll) {
      this.resultPoll.ref();
      return;
    }
    this.resultPoll = setInterval(() => {
      if (this.waiters.size === 0) {
        clearInterval(this.resultPoll);
        this.resultPoll = undefined;
        return;
      }
      const ids: string[] = [];
      for (const id of this.waiters.keys()) {
        if (this.inFlight.has(id)) continue;
        ids.push(id);
        if (ids.length >= RESULT_POLL_BATCH) break;
      }
      // Rotate so that the next round looks at other waiters first.
      for (const id of ids) {
        const list = this.waiters.get(id)!;
        this.waiters.delete(id);
        this.waiters.set(id, list);
      }
      void this.store.getResults(ids).then(
        (results) => {
          for (const r of results) this.settle(r.taskId, r);
        },
        () => undefined,
      );
      // With a shared feed, other processes' results are pushed: the poll only covers a lost notification.
    }, this.resultPollMs());
  }

  /**
   * Lets the process exit: the result poller stops, and the waits still pending end without a result, as
   * when their timeout passes. (Not a rejection: a caller that closes before awaiting its pending
   * result() would crash on an unhandled rejection.)
   */
  private resultPollMs(): number {
    const feed = this.feed;
    return feed?.reach === 'shared'
      ? Math.max(this.options.pollIntervalMs, feed.safetyPollMs)
      : this.options.pollIntervalMs;
  }

  private stopWaiting(): void {
    this.stopped = true;
    this.unfollow?.();
    clearInterval(this.resultPoll);
    this.resultPoll = undefined;
    const waiting = [...this.waiters.values()];
    this.waiters.clear();
    for (const list of waiting) for (const w of list) w.resolve(undefined);
  }

  /** Breakers as this process last read or changed them (the store has the shared truth). */
  breakerSnapshot(): Map<string, BreakerSnapshot> {
    return new Map(this.breakers);
  }

  /** An operator closed this agent version's breaker in the store: forget the open one and claim its tasks. */
  breakerReset(agentKey: string): void {
    this.breakers.delete(agentKey);
    this.wake();
  }

  // ---- claim loop -----------------------------------------------------------------------------

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        const free = this.options.concurrency - this.inFlight.size - this.slotsHeld;
        if (!this.running || free <= 0) break;
        const now = this.options.clock.now();
        if (now - this.lastRefresh > 2_000) {
          this.lastRefresh = now;
          await this.agents.refresh();
          this.breakers = await this.store.getBreakers();
        }
        const signals = this.signals;
        const t0 = this.tracer ? performance.now() : 0;
        const out = await this.store.claim(this.claimRequest(now, free));
        this.noteDrained(out, signals);
        this.launchClaimed(out, now, this.tracer ? claimTiming(t0, 'claim', out) : undefined);
        if (out.claimed.length === free) this.pumpAgain = true;
        // Slots left free: look again when a retry is due, or at the poll interval (work from other processes
        // that no notification announced).
        else this.sleepUntil(out.nextRunAfter);
      } while (this.pumpAgain);
    } catch (err) {
      this.events.emit('log', {
        taskId: '-',
        attempt: 0,
        line: 0,
        stream: 'event',
        message: `claim failed: ${(err as Error).message}`,
        at: this.options.clock.now(),
      });
      this.sleepUntil(null);
    } finally {
      this.pumping = false;
    }
  }

  private noteDrained(out: ClaimOutcome, signalsBefore: number): void {
    if (out.drained === true && signalsBefore === this.signals) this.queueDrained = true;
  }

  private claimRequest(now: number, limit: number): ClaimRequest {
    const { held, probing } = this.admissions(now);
    return {
      now,
      limit,
      owner: this.options.workerId,
      leaseMs: this.options.leaseMs,
      runnable: this.agents.runnableKeys(),
      held,
      probing,
    };
  }

  private launchClaimed(out: ClaimOutcome, now: number, claim?: ClaimTiming): void {
    for (const id of out.expired) void this.announceStored(id);
    for (const task of out.claimed) this.launch(task, now, claim);
  }

  private sleepUntil(nextRunAfter: number | null): void {
    const now = this.options.clock.now();
    // Wake when a paused agent version may run again, not a poll interval later.
    for (const until of this.pausedUntil.values())
      if (nextRunAfter === null || until < nextRunAfter) nextRunAfter = until;
    const delay = Math.max(
      1,
      Math.min(this.options.pollIntervalMs, nextRunAfter === null ? Infinity : nextRunAfter - now),
    );
    const at = Date.now() + delay; // when the real timer fires: compared with the next timer's, not with task times
    if (this.wakeTimer && at >= this.wakeAt) return;
    clearTimeout(this.wakeTimer);
    this.wakeAt = at;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined;
      this.wakeAt = Infinity;
      this.wake();
    }, delay);
    this.wakeTimer.unref();
  }

  private admissions(now: number): { held: string[]; probing: string[] } {
    const held: string[] = [];
    const probing: string[] = [];
    for (const [key, until] of this.pausedUntil) {
      if (until <= now) this.pausedUntil.delete(key);
      else held.push(key);
    }
    for (const [key, snapshot] of this.breakers) {
      if (snapshot.state === 'closed') continue;
      // The policy comes from the registry, not from a task this process ran: after a restart, the first
      // task of an open breaker's version is its probe.
      const policy = this.agents.manifest(key)?.circuitBreaker;
      if (!policy) {
        // Not registered here (so not runnable either) until the next refresh: hold.
        held.push(key);
        continue;
      }
      const admission = breakerAdmission(snapshot, policy, now);
      if (admission === 'hold') held.push(key);
      else if (admission === 'probe') probing.push(key);
    }
    return { held, probing };
  }

  // ---- running one task -----------------------------------------------------------------------

  private launch(task: ClaimedTask, now: number, claim?: ClaimTiming): void {
    const entry: InFlight = { task, controller: new LazyAbortController(), logLine: 0 };
    this.inFlight.set(task.id, entry);
    if (this.feed?.publishesTasks())
      this.feed.publishTask({ taskId: task.id, state: 'running', sessionId: task.sessionId });
    if (this.events.listenerCount('task') > 0) {
      this.emitTask({
        taskId: task.id,
        sessionId: task.sessionId,
        agent: task.agentKey,
        state: 'running',
        attempt: task.attempt,
        at: now,
      });
    }
    void this.execute(entry, claim);
  }

  private async execute(entry: InFlight, claim: ClaimTiming | undefined): Promise<void> {
    const { task, controller } = entry;
    // Traced: the queue wait and claim spans (already over) and this attempt's span, child of the task's trace.
    let trace = this.tracer ? this.startTrace(this.tracer, task, claim) : undefined;
    if (trace instanceof Promise) trace = await trace;
    const clock = this.options.clock;
    let timer: NodeJS.Timeout | undefined;
    let finish: Finish;
    const base = {
      taskId: task.id,
      sessionId: task.sessionId,
      agentKey: task.agentKey,
      owner: this.options.workerId,
      attempt: task.attempt,
    };
    try {
      const { manifest, agent } =
        this.agents.preparedNow?.(task.agentKey) ?? (await this.agents.prepared(task.agentKey));
      trace?.prepared(manifest.runtime, agent.isolation);
      const limits = this.limitsFor(task, manifest.resources, clock.now());
      // The timer measures the task, not the server's stalls: when it fires late, the event loop was
      // blocked (a long synchronous job), and the attempt's result may be waiting behind it in the loop's
      // queue (a worker's message, a child's exit). Give what already arrived a few short turns first.
      let due = performance.now() + limits.timeoutMs;
      let turns = 0;
      const expire = (): void => {
        const now = performance.now();
        if (now - due > STALL_TOLERANCE_MS && turns++ < STALL_SETTLE_TURNS) {
          due = now + STALL_SETTLE_MS;
          timer = setTimeout(expire, STALL_SETTLE_MS);
          return;
        }
        controller.abort(limits.reason());
      };
      timer = setTimeout(expire, limits.timeoutMs);
      const session = this.sessions.has(task.sessionId)
        ? this.sessions.get(task.sessionId)
        : await this.loadSession(task.sessionId);
      const allowNetwork = session?.allowNetwork ?? false;
      const streams = manifest.runtime === 'llm' && (await this.streamsOutput(task.sessionId, session));
      // Optional fields are set afterwards, never built as `{ ...x, more }`: V8 (Node 20) takes a slow
      // runtime path for a spread followed by more properties, ~0.5 µs per property, per task.
      const context = new AttemptContext(
        task.id,
        task.sessionId,
        task.attempt,
        allowNetwork,
        limits,
        controller,
        (stream, message) => this.log(entry, stream, message),
        trace,
      );
      if (session?.placement) context.placement = session.placement;
      if (streams) context.token = this.tokenEmitter(task);
      const outcome = await agent.run(task.inputJson, context);
      const succeeded: Finish = {
        taskId: base.taskId,
        sessionId: base.sessionId,
        agentKey: base.agentKey,
        owner: base.owner,
        attempt: base.attempt,
        kind: 'succeeded',
        now: clock.now(),
        usage: outcome.usage,
        outputJson: outcome.outputJson,
        outputDigest: sha256Hex(outcome.outputJson),
      };
      if (outcome.receipt) succeeded.receipt = outcome.receipt;
      finish = succeeded;
    } catch (thrown) {
      // An abort reason wins over whatever the runtime made of the abort.
      const error = coerceError(controller.aborted ? controller.reason : thrown);
      finish = this.classify(base, error, clock.now());
    } finally {
      clearTimeout(timer);
    }
    if (this.gate) {
      const t0 = trace ? performance.now() : 0;
      const governed = this.governed(this.gate, finish);
      finish = governed instanceof Promise ? await governed : governed;
      trace?.screened(t0, finish);
    }
    this.inFlight.delete(task.id);
    this.finishing.add(task.id);
    this.slotsHeld++;
    const t1 = trace ? performance.now() : 0;
    let applied: boolean;
    try {
      applied = await this.finishes.push(finish);
    } catch {
      applied = false;
    }
    if (trace) {
      trace.appended(t1, finish, applied);
      trace.end(finish);
    }
    this.slotsHeld--;
    this.finishing.delete(task.id);
    if (!applied) {
      // Lost the lease (another worker took over, or the task was cancelled meanwhile): report what is stored.
      void this.announceStored(task.id);
    }
    // The freed slot: claim for it, unless the queue is known empty (then this would be an empty claim).
    if (finish.kind === 'retry') this.wake();
    else this.pumpFreedSlots();
  }

  /** Starts the attempt's trace; a tracer that fails leaves the attempt untraced, never failed. */
  private startTrace(
    tracer: SchedulerTracer,
    task: ClaimedTask,
    claim: ClaimTiming | undefined,
  ): AttemptTrace | Promise<AttemptTrace | undefined> | undefined {
    try {
      const started = tracer.startAttempt(task, claim, this.options.workerId, async () => {
        const t = await this.store.getTask(task.id);
        return t && { metadata: t.metadata, createdAt: t.createdAt, updatedAt: t.updatedAt };
      });
      return started instanceof Promise ? started.catch(() => undefined) : started;
    } catch {
      return undefined;
    }
  }

  /** Applies the governance gate: flags ride along with the finish; 'quarantine' turns a success into one. */
  private governed(gate: TaskGate, finish: Finish): Finish | Promise<Finish> {
    if (finish.kind !== 'succeeded') {
      if (finish.kind === 'cancelled' || (finish.kind === 'retry' && finish.error.code === 'CLOSED'))
        return finish;
      const d = gate.afterFailure({
        taskId: finish.taskId,
        sessionId: finish.sessionId,
        agentKey: finish.agentKey,
        terminal: finish.kind !== 'retry',
        now: finish.now,
      });
      return d ? { ...finish, flags: d.flags } : finish;
    }
    const manifest = this.agents.manifest(finish.agentKey);
    if (!manifest) return finish;
    let d: ReturnType<TaskGate['afterRun']>;
    try {
      d = gate.afterRun({
        taskId: finish.taskId,
        sessionId: finish.sessionId,
        agentKey: finish.agentKey,
        manifest,
        outputJson: finish.outputJson,
        usage: finish.usage,
        now: finish.now,
      });
    } catch (err) {
      return heldBack(finish, err);
    }
    if (d === undefined) return finish;
    return d instanceof Promise
      ? d.then(
          (x) => gated(finish, x),
          (err: unknown) => heldBack(finish, err),
        )
      : gated(finish, d);
  }

  private tokenEmitter(task: ClaimedTask): (text: string) => void {
    let index = 0;
    return (text) => {
      const i = index++;
      if (this.events.listenerCount('token') > 0)
        this.events.emit('token', {
          taskId: task.id,
          attempt: task.attempt,
          index: i,
          text,
          at: this.options.clock.now(),
        });
    };
  }

  /** Whether the session's policy lets generated text out before the output is screened (cached). */
  private async streamsOutput(sessionId: string, session: Session | null | undefined): Promise<boolean> {
    const known = this.sessionStreams.get(sessionId);
    if (known !== undefined) return known;
    let streams = true;
    if (this.gate?.streamsOutput) streams = session ? await this.gate.streamsOutput(session) : false;
    this.sessionStreams.set(sessionId, streams);
    return streams;
  }

  /** A session, read once (sessions are created once and their settings never change); null if it is gone. */
  private async loadSession(sessionId: string): Promise<Session | null> {
    const session = (await this.store.getSession(sessionId)) ?? null;
    this.sessions.set(sessionId, session);
    return session;
  }

  private limitsFor(
    task: ClaimedTask,
    base: ResourceLimits,
    now: number,
  ): ResourceLimits & { reason(): WardenError } {
    const timeoutMs = Math.min(base.timeoutMs, task.timeoutMs ?? Infinity);
    const untilDeadline = task.deadline === null ? Infinity : task.deadline - now;
    const deadlineFirst = untilDeadline < timeoutMs;
    // The error is built only when the timer fires: capturing a stack per task would cost more than a
    // no-op task. A literal, not a spread followed by properties (V8's slow path, see execute) nor
    // Object.assign (~0.7 µs a task).
    const limits: ResourceLimits & { reason(): WardenError } = {
      timeoutMs: deadlineFirst ? Math.max(0, untilDeadline) : timeoutMs,
      memoryMb: base.memoryMb,
      maxOutputBytes: base.maxOutputBytes,
      reason: deadlineFirst
        ? deadlineExceeded
        : () =>
            new WardenError(
              'TIMEOUT',
              `The agent ran longer than its ${timeoutMs} ms timeout and was stopped`,
              // A timeout the submitter set below the agent's own says nothing about the agent's health.
              { details: { timeoutMs, setBy: timeoutMs < base.timeoutMs ? 'task' : 'agent' } },
            ),
    };
    if (base.diskMb !== undefined) limits.diskMb = base.diskMb;
    return limits;
  }

  private classify(base: Omit<Finish, 'kind' | 'now' | 'usage'>, error: WardenError, now: number): Finish {
    const common = { ...base, now, usage: null, error: error.toJSON() };
    if (error.code === 'CANCELLED') return { ...common, kind: 'cancelled' };
    if (error.code === 'CLOSED') return { ...common, kind: 'retry', runAfter: now };
    if (error.code === 'DEADLINE_EXCEEDED') return { ...common, kind: 'failed' };
    const task = this.inFlightTask(base.taskId);
    const maxAttempts = task?.maxAttempts ?? base.attempt;
    const policy = this.agents.manifest(base.agentKey)?.retry;
    // A provider's Retry-After (429/503) is a floor under the backoff, never shortened by jitter, and it
    // pauses the agent version's other tasks too.
    const asked = error.details?.['retryAfterMs'];
    const floor = typeof asked === 'number' && asked > 0 ? asked : 0;
    if (floor > 0)
      this.pausedUntil.set(base.agentKey, Math.max(this.pausedUntil.get(base.agentKey) ?? 0, now + floor));
    if (error.retryable && base.attempt < maxAttempts && policy) {
      // Backoff grows within one retry budget: after a DLQ replay (which adds a budget), it starts over.
      const attemptInBudget = Math.max(1, base.attempt - (maxAttempts - policy.maxAttempts));
      const runAfter = now + Math.max(floor, backoffDelayMs(policy, attemptInBudget, this.options.random));
      if (task?.deadline == null || runAfter < task.deadline) return { ...common, kind: 'retry', runAfter };
    }
    return { ...common, kind: 'dead' };
  }

  private inFlightTask(id: string): ClaimedTask | undefined {
    return this.inFlight.get(id)?.task;
  }

  private log(entry: InFlight, stream: LogLine['stream'], message: string): void {
    const line: LogLine = {
      taskId: entry.task.id,
      attempt: entry.task.attempt,
      line: ++entry.logLine,
      stream,
      message,
      at: this.options.clock.now(),
    };
    this.pendingLogsBuffer.push(line);
    if (this.events.listenerCount('log') > 0) this.events.emit('log', line);
    this.feed?.publishLog({ taskId: line.taskId });
    if (this.pendingLogsBuffer.length === 1) setTimeout(() => void this.flushLogs(), 100).unref();
  }

  /** Log lines of a task that are not in the store yet (they are written in batches). */
  pendingLogs(taskId: string): LogLine[] {
    return this.pendingLogsBuffer.filter((l) => l.taskId === taskId);
  }

  private async flushLogs(): Promise<void> {
    if (this.pendingLogsBuffer.length === 0) return;
    const batch = this.pendingLogsBuffer;
    this.pendingLogsBuffer = [];
    await this.store.appendLogs(batch).catch(() => undefined);
  }

  // ---- committing finishes --------------------------------------------------------------------

  private async commitFinishes(batch: Finish[]): Promise<boolean[]> {
    // Logs first, so a follower that sees the result has already seen the lines before it.
    await this.flushLogs();
    const { outcomes, predicted } = this.breakerOutcomes(batch);
    const stateBefore = new Map(
      outcomes.map((o) => [o.agentKey, this.breakers.get(o.agentKey)?.state ?? 'closed']),
    );
    for (const u of predicted) this.breakers.set(u.agentKey, u.snapshot);
    // The slots of this batch free up with its commit: claim their successors in the same transaction,
    // unless a pump is already claiming (it will see the freed slots when it loops).
    const free = this.options.concurrency - this.inFlight.size - (this.slotsHeld - batch.length);
    const now = this.options.clock.now();
    // A retry puts work back: the queue is not drained any more, and the claim learns when it is due.
    if (batch.some((f) => f.kind === 'retry')) {
      this.signals++;
      this.queueDrained = false;
    }
    const claimNext = this.running && !this.pumping && free > 0 && !this.queueDrained;
    const signals = this.signals;
    const t0 = this.tracer ? performance.now() : 0;
    const { applied, next, breakers } = await this.store.finish(
      batch,
      outcomes,
      claimNext ? this.claimRequest(now, free) : undefined,
    );
    // The store applied the outcomes to the shared breaker, which counts other processes' runs too.
    for (const u of breakers) {
      // A breaker that closed (or went half-open) releases tasks it held: the queue is not drained for them.
      if (u.snapshot.state !== 'open' && (stateBefore.get(u.agentKey) ?? 'closed') !== u.snapshot.state) {
        this.signals++;
        this.queueDrained = false;
      }
      this.breakers.set(u.agentKey, u.snapshot);
    }
    if (next) {
      this.noteDrained(next, signals);
      this.launchClaimed(next, now, this.tracer ? claimTiming(t0, 'finish', next) : undefined);
      if (next.claimed.length < free) this.sleepUntil(next.nextRunAfter);
    }
    if (this.afterSucceeded) await this.runAfterSucceeded(this.afterSucceeded, batch, applied);
    const emit = this.events.listenerCount('task') > 0;
    // Built only for a feed someone reads (an SSE follower, another process): one object per task otherwise.
    const publish = this.feed?.publishesTasks() === true;
    for (let i = 0; i < batch.length; i++) {
      const f = batch[i]!;
      if (!applied[i]) continue;
      if (publish)
        this.feed!.publishTask({
          taskId: f.taskId,
          state: f.kind === 'retry' ? 'queued' : f.kind,
          sessionId: f.sessionId,
        });
      if (f.kind === 'retry') {
        if (emit)
          this.emitTask({
            taskId: f.taskId,
            sessionId: f.sessionId,
            agent: f.agentKey,
            state: 'retrying',
            attempt: f.attempt,
            at: f.now,
            error: f.error,
            retryAt: f.runAfter,
          });
        continue;
      }
      // Nobody waits and nobody listens: skip building (and parsing) the result on the hot path.
      if (!emit && !this.waiters.has(f.taskId)) continue;
      // The output is set exactly for the kinds that have one, as TaskResult's union says.
      const result = {
        taskId: f.taskId,
        status: f.kind,
        output:
          f.kind === 'succeeded' || f.kind === 'quarantined' ? (JSON.parse(f.outputJson) as unknown) : null,
        error: f.kind === 'succeeded' ? null : f.error,
        attempts: f.attempt,
        usage: f.usage,
        outputDigest: f.kind === 'succeeded' || f.kind === 'quarantined' ? f.outputDigest : null,
        finishedAt: f.now,
      } as TaskResult;
      if (emit) this.emitTask(finishedEvent(f.sessionId, f.agentKey, f.kind, result));
      this.settle(f.taskId, result);
    }
    return applied;
  }

  /** Runs the afterSucceeded hook for the batch's committed successes (a reader of the result sees its effects). */
  private async runAfterSucceeded(
    hook: NonNullable<Scheduler['afterSucceeded']>,
    batch: Finish[],
    applied: boolean[],
  ): Promise<void> {
    const pending: Promise<void>[] = [];
    batch.forEach((f, i) => {
      if (!applied[i] || f.kind !== 'succeeded') return;
      const p = hook({
        taskId: f.taskId,
        sessionId: f.sessionId,
        agentKey: f.agentKey,
        outputJson: f.outputJson,
      });
      if (p) pending.push(p.catch(() => undefined));
    });
    if (pending.length) await Promise.all(pending);
  }

  /**
   * What this batch teaches each agent version's breaker, for the store to apply to the stored one (the
   * count over every process). `predicted` is the same applied to this process's view: it only decides the
   * claim made in the same transaction, until the store's answer replaces it.
   */
  private breakerOutcomes(batch: Finish[]): { outcomes: BreakerOutcomes[]; predicted: BreakerUpdate[] } {
    const byKey = new Map<
      string,
      BreakerOutcomes & { outcomes: BreakerOutcome[]; snapshot: BreakerSnapshot; changed: boolean }
    >();
    for (const f of batch) {
      if (f.kind === 'cancelled' || f.kind === 'failed' || (f.kind === 'retry' && f.error.code === 'CLOSED'))
        continue;
      // One tenant's short timeout must not open a shared agent's breaker for every tenant.
      if (f.kind !== 'succeeded' && f.kind !== 'quarantined' && f.error.details?.['setBy'] === 'task')
        continue;
      const policy = this.agents.manifest(f.agentKey)?.circuitBreaker;
      if (!policy) continue;
      let entry = byKey.get(f.agentKey);
      if (!entry) {
        const snapshot = this.breakers.get(f.agentKey) ?? CLOSED_BREAKER;
        entry = { agentKey: f.agentKey, policy, outcomes: [], snapshot, changed: false };
        byKey.set(f.agentKey, entry);
      }
      const outcome = { ok: f.kind === 'succeeded' || f.kind === 'quarantined', at: f.now };
      const updated = applyBreakerOutcomes(entry.snapshot, policy, [outcome]);
      entry.changed ||= !sameBreaker(updated, entry.snapshot);
      entry.snapshot = updated;
      entry.outcomes.push(outcome);
    }
    // Successes on a breaker this process knows healthy change nothing: the hot path sends (and writes)
    // nothing. A version with a failure, or one this process saw failing, sends all its outcomes in order.
    const sent = [...byKey.values()].filter((e) => e.changed);
    return {
      outcomes: sent.map(({ agentKey, policy, outcomes }) => ({ agentKey, policy, outcomes })),
      predicted: sent.map(({ agentKey, snapshot }) => ({ agentKey, snapshot })),
    };
  }

  private settle(taskId: string, result: TaskResult): void {
    const list = this.waiters.get(taskId);
    if (!list) return;
    this.waiters.delete(taskId);
    if (this.waiters.size === 0) this.resultPoll?.unref(); // nobody waits: let the process go
    for (const w of list) w.resolve(result);
  }

  private removeWaiter(taskId: string, waiter: Waiter): void {
    const list = this.waiters.get(taskId);
    if (!list) return;
    const i = list.indexOf(waiter);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.waiters.delete(taskId);
    if (this.waiters.size === 0) this.resultPoll?.unref();
  }

  private async announceStored(taskId: string): Promise<void> {
    const result = await this.store.getResult(taskId).catch(() => undefined);
    if (!result) return;
    this.settle(taskId, result);
    if (this.events.listenerCount('task') > 0) {
      const task = await this.store.getTask(taskId);
      if (task)
        this.emitTask(finishedEvent(task.sessionId, task.agent, result.status as TaskEventState, result));
    }
  }

  private emitTask(event: TaskEvent): void {
    this.events.emit('task', event);
  }

  // ---- housekeeping ---------------------------------------------------------------------------

  private async heartbeat(): Promise<void> {
    if (this.inFlight.size === 0) return;
    const ids = [...this.inFlight.keys()];
    try {
      await this.store.renewLeases(
        this.options.workerId,
        ids,
        this.options.clock.now() + this.options.leaseMs,
      );
      for (const id of await this.store.cancelRequested(ids)) {
        this.inFlight.get(id)?.controller.abort(new WardenError('CANCELLED', 'The task was cancelled'));
      }
    } catch {
      // The next heartbeat retries; a lease that runs out hands the task to another worker.
    }
  }

  private async reap(): Promise<void> {
    try {
      if ((await this.store.reapExpiredLeases(this.options.clock.now())) > 0) this.wake();
    } catch {
      // Retried on the next interval.
    }
  }
}

const RESULT_POLL_BATCH = 500;
const TERMINAL = new Set(['succeeded', 'failed', 'dead', 'cancelled', 'quarantined']);
/** A timeout timer this late means the event loop was blocked, not that the task overran. */
const STALL_TOLERANCE_MS = 50;
/**
 * After a stall, the timeout waits this long (a full loop turn: I/O, immediates, close callbacks) for a
 * result that arrived meanwhile, at most STALL_SETTLE_TURNS times in a row while the stall goes on.
 */
const STALL_SETTLE_MS = 10;
const STALL_SETTLE_TURNS = 3;

type Succeeded = Extract<Finish, { kind: 'succeeded' }>;

function gated(finish: Succeeded, d: GateDecision | undefined): Finish {
  if (!d) return finish;
  if (d.action !== 'quarantine') return { ...finish, flags: d.flags };
  const worst = d.flags.reduce((a, b) => (b.severity > a.severity ? b : a));
  return {
    ...finish,
    kind: 'quarantined',
    flags: d.flags,
    error: {
      code: 'TASK_QUARANTINED',
      message: `Policy ${d.policy} quarantined the result: ${worst.type} (severity ${worst.severity}): ${worst.reason}`,
      retryable: false,
    },
  };
}

// A gate that fails holds the result back rather than letting it through unchecked.
function heldBack(finish: Succeeded, err: unknown): Finish {
  return {
    ...finish,
    kind: 'quarantined',
    error: {
      code: 'TASK_QUARANTINED',
      message: `The governance check failed, so the result is held back: ${(err as Error).message}`,
      retryable: false,
    },
  };
}

function claimTiming(start: number, via: ClaimTiming['via'], out: ClaimOutcome): ClaimTiming {
  return { start, end: performance.now(), via, size: out.claimed.length };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * The event of a task that reached `state` with `result`. A literal with the error set afterwards, not
 * `{ ...(error ? { error } : {}), result }`: V8 (Node 20) builds a spread followed by more properties on
 * a slow runtime path, and this runs once per finished task while anyone listens.
 */
function finishedEvent(
  sessionId: string,
  agent: string,
  state: TaskEventState,
  result: TaskResult,
): TaskEvent {
  const event: TaskEvent = {
    taskId: result.taskId,
    sessionId,
    agent,
    state,
    attempt: result.attempts,
    at: result.finishedAt,
    result,
  };
  if (result.error) event.error = result.error;
  return event;
}

/** The abort reason of an attempt stopped at its task's deadline. */
function deadlineExceeded(): WardenError {
  return new WardenError('DEADLINE_EXCEEDED', "The task's deadline passed while it ran");
}
