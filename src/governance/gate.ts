import type { AgentManifest, ResourceUsage, Session } from '../core/index.js';
import type { SessionPort } from '../scheduler/index.js';
import type { GovernancePort, TraceFlagRecord } from './governance-port.js';
import { AnomalyDetector } from './detectors/anomaly-detector.js';
import { extractTexts, type DetectionContext, type Detector } from './detectors/detector.js';
import { toRecord, type FlagFinding } from './flags.js';
import type { PolicyRegistry } from './policies.js';
import { decide, type GateAction, type GovernancePolicy } from './policy.js';

export interface GateDecision {
  action: GateAction;
  flags: TraceFlagRecord[];
  policy: string;
}

export interface SubmitContext {
  taskId: string;
  session: Session;
  manifest: AgentManifest;
  inputJson: string;
  /**
   * What to screen instead of the input's strings: an LLM agent's rendered prompt messages (those that
   * carry input), so detectors see exactly what the model will be sent.
   */
  texts?: readonly string[];
  now: number;
}

export interface RunContext {
  taskId: string;
  sessionId: string;
  /** name@version, as the scheduler already has it (no string building per task). */
  agentKey: string;
  manifest: AgentManifest;
  outputJson: string;
  usage: ResourceUsage | null;
  now: number;
}

export interface FailureContext {
  taskId: string;
  sessionId: string;
  agentKey: string;
  /** The failure ends the task (dead, failed): flags can be stored with it. */
  terminal: boolean;
  now: number;
}

/**
 * The narrow interface the scheduler and Warden.submit call. Each method answers `undefined` — synchronously
 * — when there is nothing to say, which is the hot path: no promise, no allocation beyond the lookups.
 */
export interface TaskGate {
  beforeSubmit(ctx: SubmitContext): GateDecision | undefined | Promise<GateDecision | undefined>;
  afterRun(ctx: RunContext): GateDecision | undefined | Promise<GateDecision | undefined>;
  afterFailure(ctx: FailureContext): GateDecision | undefined;
  /**
   * Whether generated text may be streamed to clients before the output is screened: not when the session's
   * policy can quarantine outputs, or the tokens would leak what quarantine holds back.
   */
  streamsOutput?(session: Pick<Session, 'id' | 'policy' | 'policyDocument'>): boolean | Promise<boolean>;
}

/** Runs the detectors a session's policy asks for and turns their findings into a decision. */
export class GovernanceGate implements TaskGate {
  private readonly sessionPolicies = new Map<string, GovernancePolicy>();
  /** Detectors that apply, per policy, stage and agent version: decided once, looked up per task. */
  private readonly applicable = {
    input: new WeakMap<GovernancePolicy, Map<string, readonly Detector[]>>(),
    output: new WeakMap<GovernancePolicy, Map<string, readonly Detector[]>>(),
  };
  /** When each agent version's history was last (re)loaded from the store. */
  private readonly loadedAt = new Map<string, number>();

  constructor(
    private readonly store: Pick<GovernancePort, 'agentHistory'> & Pick<SessionPort, 'getSession'>,
    private readonly policies: PolicyRegistry,
    private readonly detectors: readonly Detector[],
    readonly anomaly: AnomalyDetector = new AnomalyDetector(),
  ) {}

  /** The policy of a session (cached: a session's policy never changes). */
  policyOf(
    session: Pick<Session, 'id' | 'policy' | 'policyDocument'>,
  ): GovernancePolicy | Promise<GovernancePolicy> {
    const hit = this.sessionPolicies.get(session.id);
    if (hit) return hit;
    // Resolved when the session was created and stored with it: the same policy in every process.
    if (session.policyDocument) {
      const stored = session.policyDocument as unknown as GovernancePolicy;
      this.sessionPolicies.set(session.id, stored);
      return stored;
    }
    const p = this.policies.resolve(session.policy);
    if (p instanceof Promise)
      return p.then((policy) => {
        this.sessionPolicies.set(session.id, policy);
        return policy;
      });
    this.sessionPolicies.set(session.id, p);
    return p;
  }

  streamsOutput(session: Pick<Session, 'id' | 'policy' | 'policyDocument'>): boolean | Promise<boolean> {
    const policy = this.policyOf(session);
    return policy instanceof Promise ? policy.then(streamable) : streamable(policy);
  }

  beforeSubmit(ctx: SubmitContext): GateDecision | undefined | Promise<GateDecision | undefined> {
    const policy = this.policyOf(ctx.session);
    if (policy instanceof Promise) return policy.then((p) => this.screenInput(p, ctx));
    return this.screenInput(policy, ctx);
  }

  private screenInput(
    policy: GovernancePolicy,
    ctx: SubmitContext,
  ): GateDecision | undefined | Promise<GateDecision | undefined> {
    if (!policy.detect.input) return undefined;
    const detectors = this.detectorsFor(policy, 'input', ctx.manifest);
    if (detectors.length === 0) return undefined;
    const texts = ctx.texts ?? extractTexts(ctx.inputJson);
    if (texts.length === 0) return undefined;
    const dctx: DetectionContext = {
      stage: 'input',
      taskId: ctx.taskId,
      sessionId: ctx.session.id,
      manifest: ctx.manifest,
      policy,
      json: ctx.inputJson,
      texts,
    };
    const at = {
      sessionId: ctx.session.id,
      taskId: ctx.taskId,
      agentKey: key(ctx.manifest),
      stage: 'input' as const,
      now: ctx.now,
    };
    return this.conclude(policy, dctx, this.runDetectors(detectors, dctx), [], at);
  }

  /**
   * What the input-stage detectors of `policy` find in `texts` as they would for `manifest`'s input, and what
   * the policy would do about it: `warden.governance.screen`, with nothing stored.
   */
  async screenTexts(
    policy: GovernancePolicy,
    texts: readonly string[],
    manifest: AgentManifest,
  ): Promise<{ action: GateAction; findings: FlagFinding[] }> {
    const detectors = policy.detect.input ? this.detectorsFor(policy, 'input', manifest) : NONE;
    if (detectors.length === 0 || texts.length === 0) return { action: 'allow', findings: [] };
    const findings = await this.runDetectors(detectors, {
      stage: 'input',
      taskId: '',
      sessionId: '',
      manifest,
      policy,
      json: JSON.stringify(texts),
      texts,
    });
    return { action: decide(policy, 'input', findings, manifest), findings };
  }

  afterRun(ctx: RunContext): GateDecision | undefined | Promise<GateDecision | undefined> {
    const policy = this.sessionPolicies.get(ctx.sessionId);
    if (!policy) {
      return this.store.getSession(ctx.sessionId).then(async (s) => {
        const p = await this.policyOf(s ?? { id: ctx.sessionId, policy: 'default' });
        return this.screenOutput(p, ctx);
      });
    }
    return this.screenOutput(policy, ctx);
  }

  private screenOutput(
    policy: GovernancePolicy,
    ctx: RunContext,
  ): GateDecision | undefined | Promise<GateDecision | undefined> {
    const agentKey = ctx.agentKey;
    const extra: readonly FlagFinding[] = policy.detect.anomaly
      ? this.observe(
          agentKey,
          { ok: true, wallMs: ctx.usage?.wallMs ?? null, outputBytes: ctx.outputJson.length },
          ctx.now,
        )
      : NO_FINDINGS;
    const detectors = policy.detect.output ? this.detectorsFor(policy, 'output', ctx.manifest) : NONE;
    const texts = detectors.length > 0 ? extractTexts(ctx.outputJson) : NONE_TEXT;
    if (texts.length === 0 && extra.length === 0) return undefined;
    const dctx: DetectionContext = {
      stage: 'output',
      taskId: ctx.taskId,
      sessionId: ctx.sessionId,
      manifest: ctx.manifest,
      policy,
      json: ctx.outputJson,
      texts,
    };
    const at = {
      sessionId: ctx.sessionId,
      taskId: ctx.taskId,
      agentKey,
      stage: 'output' as const,
      now: ctx.now,
    };
    return this.conclude(policy, dctx, texts.length ? this.runDetectors(detectors, dctx) : [], extra, at);
  }

  afterFailure(ctx: FailureContext): GateDecision | undefined {
    const policy = this.sessionPolicies.get(ctx.sessionId);
    if (!policy?.detect.anomaly) return undefined;
    const found = this.observe(ctx.agentKey, { ok: false, wallMs: null, outputBytes: 0 }, ctx.now);
    if (found.length === 0 || !ctx.terminal) return undefined;
    const at = {
      sessionId: ctx.sessionId,
      taskId: ctx.taskId,
      agentKey: ctx.agentKey,
      stage: 'output' as const,
      now: ctx.now,
    };
    return { action: 'flag', flags: found.map((f) => toRecord(f, at)), policy: policy.name };
  }

  private observe(
    agentKey: string,
    run: { ok: boolean; wallMs: number | null; outputBytes: number },
    now: number,
  ): readonly FlagFinding[] {
    const loaded = this.loadedAt.get(agentKey);
    // The database holds the history; memory is a cache of it. Other processes (workers on other
    // machines, on a shared database) finish runs of the same version too: reload it now and then, in the
    // background, so every process judges a run against the whole cluster's history.
    if (loaded === undefined || now - loaded >= this.anomaly.resyncMs) {
      this.loadedAt.set(agentKey, now);
      void this.store.agentHistory(agentKey, 512).then(
        (rows) =>
          this.anomaly.load(
            agentKey,
            rows
              .reverse()
              .map((r) => ({ ok: r.status === 'succeeded', wallMs: r.wallMs, outputBytes: r.outputBytes })),
          ),
        () => undefined,
      );
    }
    return this.anomaly.observe(agentKey, run);
  }

  private detectorsFor(
    policy: GovernancePolicy,
    stage: 'input' | 'output',
    manifest: AgentManifest,
  ): readonly Detector[] {
    let byAgent = this.applicable[stage].get(policy);
    if (!byAgent) {
      byAgent = new Map();
      this.applicable[stage].set(policy, byAgent);
    }
    const k = key(manifest);
    let list = byAgent.get(k);
    if (!list) {
      list = this.detectors.filter((d) => d.applies({ stage, manifest, policy }));
      byAgent.set(k, list);
    }
    return list;
  }

  private runDetectors(
    detectors: readonly Detector[],
    ctx: DetectionContext,
  ): FlagFinding[] | Promise<FlagFinding[]> {
    const found: FlagFinding[] = [];
    const pending: Promise<FlagFinding[]>[] = [];
    for (const d of detectors) {
      const out = d.detect(ctx);
      if (out instanceof Promise) pending.push(out);
      else found.push(...out);
    }
    if (pending.length === 0) return found;
    return Promise.all(pending).then((more) => [...found, ...more.flat()]);
  }

  private conclude(
    policy: GovernancePolicy,
    ctx: DetectionContext,
    findings: FlagFinding[] | Promise<FlagFinding[]>,
    extra: readonly FlagFinding[],
    at: Parameters<typeof toRecord>[1],
  ): GateDecision | undefined | Promise<GateDecision | undefined> {
    const finish = (found: FlagFinding[]): GateDecision | undefined => {
      const all = [...found, ...extra];
      if (all.length === 0) return undefined;
      return {
        action: decide(policy, ctx.stage, all, ctx.manifest),
        flags: all.map((f) => toRecord(f, at)),
        policy: policy.name,
      };
    };
    return findings instanceof Promise ? findings.then(finish) : finish(findings);
  }
}

const NONE: readonly Detector[] = [];
const NONE_TEXT: readonly string[] = [];
const NO_FINDINGS: readonly FlagFinding[] = [];

function key(m: Pick<AgentManifest, 'name' | 'version'>): string {
  return `${m.name}@${m.version}`;
}

function streamable(policy: GovernancePolicy): boolean {
  if (!policy.detect.output) return true;
  return !policy.autoQuarantine && !policy.rules.some((r) => r.action === 'quarantine');
}
