import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { priorityName, type LlmUsage } from '../core/index.js';
import type { TaskEvent } from '../scheduler/index.js';
import type { Warden } from '../warden/index.js';

const BREAKER_VALUE = { closed: 0, half_open: 1, open: 2 } as const;

/** Histogram buckets of task wall time, in seconds (100 µs to 30 s). */
const LATENCY_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30];
/** Histogram buckets of an LLM's time to first token, in seconds. */
const FIRST_TOKEN_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Prometheus metrics of one Warden process, named after the seed's `layer4_*` metrics with a `warden_`
 * prefix and Prometheus conventions (base units: durations in `_seconds`). Process and Node.js runtime
 * metrics keep their standard names (`process_cpu_seconds_total`, `nodejs_eventloop_lag_seconds`, ...), so
 * stock dashboards and alerts find them. Counters move with the scheduler's task events; gauges are read
 * from the store at scrape time.
 */
export class WardenMetrics {
  readonly registry = new Registry();
  private readonly processed: Counter<'agent' | 'outcome'>;
  private readonly succeeded: Counter<'agent'>;
  private readonly failed: Counter<'agent' | 'code'>;
  private readonly spawns: Counter<'agent'>;
  private readonly latency: Histogram<'agent' | 'runtime'>;
  private readonly llmTokens: Counter<'agent' | 'provider' | 'model' | 'kind'>;
  private readonly llmCost: Counter<'agent' | 'provider' | 'model'>;
  private readonly llmRequests: Counter<'agent' | 'outcome'>;
  private readonly llmFirstToken: Histogram<'agent' | 'provider'>;
  private readonly runtimes = new Map<string, string>();
  private readonly started = Date.now();

  constructor(private readonly warden: Warden) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'warden_uptime_seconds',
      help: 'Seconds since this process started',
      registers,
      collect: this.gauge((g) => g.set((Date.now() - this.started) / 1000)),
    });
    this.processed = new Counter({
      name: 'warden_tasks_processed_total',
      help: 'Task attempts that ended, by outcome',
      labelNames: ['agent', 'outcome'],
      registers,
    });
    this.succeeded = new Counter({
      name: 'warden_tasks_succeeded_total',
      help: 'Tasks that succeeded',
      labelNames: ['agent'],
      registers,
    });
    this.failed = new Counter({
      name: 'warden_tasks_failed_total',
      help: 'Task attempts that failed, by error code',
      labelNames: ['agent', 'code'],
      registers,
    });
    this.spawns = new Counter({
      name: 'warden_agents_spawned_total',
      help: 'Agent attempts started',
      labelNames: ['agent'],
      registers,
    });
    this.latency = new Histogram({
      name: 'warden_task_latency_seconds',
      help: 'Wall time of successful attempts in seconds',
      labelNames: ['agent', 'runtime'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.llmTokens = new Counter({
      name: 'warden_llm_tokens_total',
      help: 'Tokens LLM agents consumed, by kind (prompt or completion), including attempts that failed validation',
      labelNames: ['agent', 'provider', 'model', 'kind'],
      registers,
    });
    this.llmCost = new Counter({
      name: 'warden_llm_cost_usd_total',
      help: 'Cost of LLM attempts in USD, from the configured price table',
      labelNames: ['agent', 'provider', 'model'],
      registers,
    });
    this.llmRequests = new Counter({
      name: 'warden_llm_requests_total',
      help: 'LLM attempts by outcome: ok, or the error code (LLM_RATE_LIMITED, LLM_STALLED, INVALID_OUTPUT, ...)',
      labelNames: ['agent', 'outcome'],
      registers,
    });
    this.llmFirstToken = new Histogram({
      name: 'warden_llm_time_to_first_token_seconds',
      help: 'Seconds from sending the request to the first generated text',
      labelNames: ['agent', 'provider'],
      buckets: FIRST_TOKEN_BUCKETS,
      registers,
    });
    const queue = new Gauge({
      name: 'warden_queue_depth',
      help: 'Queued tasks by priority',
      labelNames: ['priority'],
      registers,
    });
    const dlq = new Gauge({ name: 'warden_dlq_size', help: 'Tasks in the dead-letter queue', registers });
    const running = new Gauge({
      name: 'warden_tasks_running',
      help: 'Tasks running in this process',
      registers,
    });
    const agents = new Gauge({
      name: 'warden_active_agents',
      help: 'Agent versions this process can run',
      registers,
    });
    const breakers = new Gauge({
      name: 'warden_circuit_breaker_state',
      help: 'Circuit breaker per agent version: 0 closed, 1 half-open, 2 open',
      labelNames: ['agent'],
      registers,
    });
    const leader = new Gauge({
      name: 'warden_maintenance_leader',
      help: "Whether this process does the database maintenance (reaping leases; on PostgreSQL, signing every node's tree heads): 1 yes, 0 no",
      registers,
    });
    // One store read per scrape, shared by the gauges that need it.
    let pending: Promise<void> | undefined;
    const refresh = () =>
      (pending ??= (async () => {
        try {
          // Breakers as stored (the cluster's truth), not as this process last saw them.
          const [stats, stored] = await Promise.all([
            warden.queueStats({ light: true }),
            warden.storedBreakers(),
          ]);
          queue.reset();
          for (const [level, n] of Object.entries(stats.queuedByPriority))
            queue.set({ priority: priorityName(Number(level)) }, n);
          dlq.set(stats.deadLetters);
          const here = warden.workerStatus();
          running.set(here.inFlight);
          agents.set(here.runnableAgents);
          leader.set(here.maintenanceLeader ? 1 : 0);
          breakers.reset();
          for (const [agent, b] of stored) breakers.set({ agent }, BREAKER_VALUE[b.state]);
        } finally {
          pending = undefined;
        }
      })());
    // prom-client calls collect() on every gauge; the first one does the work for all.
    for (const g of [queue, dlq, running, agents, breakers, leader])
      (g as unknown as { collect: () => Promise<void> }).collect = refresh;
    warden.events.on('task', this.onTask);
  }

  /** Stops counting this Warden's events (the server closed). */
  dispose(): void {
    this.warden.events.off('task', this.onTask);
  }

  private gauge(fn: (g: Gauge) => void) {
    return function (this: Gauge) {
      fn(this);
    };
  }

  private readonly onTask = (e: TaskEvent): void => {
    const agent = e.agent;
    switch (e.state) {
      case 'running':
        this.spawns.inc({ agent });
        return;
      case 'succeeded': {
        this.processed.inc({ agent, outcome: 'succeeded' });
        this.succeeded.inc({ agent });
        const wall = e.result?.usage?.wallMs;
        const runtime = this.runtimeOf(agent);
        if (wall !== undefined) this.latency.observe({ agent, runtime }, wall / 1000);
        if (runtime === 'llm') this.countLlm(agent, 'ok', e.result?.usage?.llm);
        return;
      }
      case 'retrying':
      case 'dead':
      case 'failed':
        this.processed.inc({ agent, outcome: e.state });
        this.failed.inc({ agent, code: e.error?.code ?? 'UNKNOWN' });
        if (this.runtimeOf(agent) === 'llm')
          this.countLlm(agent, e.error?.code ?? 'UNKNOWN', e.error?.details?.['llm'] as LlmUsage | undefined);
        return;
      case 'cancelled':
      case 'quarantined': // the run ended with an output that governance holds back
        this.processed.inc({ agent, outcome: e.state });
        return;
      default:
    }
  };

  private countLlm(agent: string, outcome: string, usage: LlmUsage | undefined): void {
    this.llmRequests.inc({ agent, outcome });
    if (!usage) return;
    const labels = { agent, provider: usage.provider, model: usage.model };
    if (usage.promptTokens !== null) this.llmTokens.inc({ ...labels, kind: 'prompt' }, usage.promptTokens);
    if (usage.completionTokens !== null)
      this.llmTokens.inc({ ...labels, kind: 'completion' }, usage.completionTokens);
    if (usage.costUsd !== null) this.llmCost.inc(labels, usage.costUsd);
    if (usage.timeToFirstTokenMs !== null)
      this.llmFirstToken.observe({ agent, provider: usage.provider }, usage.timeToFirstTokenMs / 1000);
  }

  private runtimeOf(agent: string): string {
    let runtime = this.runtimes.get(agent);
    if (!runtime) {
      runtime = this.warden.runtimeOf(agent) ?? 'unknown';
      this.runtimes.set(agent, runtime);
    }
    return runtime;
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
