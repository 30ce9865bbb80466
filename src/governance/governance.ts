import { realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { WardenError, type AgentManifest, type Session, type Task } from '../core/index.js';
import type { GovernanceStore, TraceFlagRecord } from './governance-port.js';
import { defaultDetectorModel } from './default-model.js';
import { AnomalyDetector, type AnomalyOptions } from './detectors/anomaly-detector.js';
import type { Detector } from './detectors/detector.js';
import { JailbreakDetector, thresholdsOf } from './detectors/jailbreak-detector.js';
import { UnsafeCodeDetector } from './detectors/unsafe-code-detector.js';
import {
  checkSeverity,
  fromRecord,
  parseFlagType,
  toRecord,
  type FlagType,
  type TraceFlag,
} from './flags.js';
import { GovernanceGate, type SubmitContext } from './gate.js';
import { validateMerge, type MergeReport } from './merge.js';
import type { DetectorModel } from './model.js';
import { PolicyRegistry } from './policies.js';
import type { GateAction, GovernancePolicy } from './policy.js';
import { analyzeText } from './text-analysis.js';

export interface GovernanceOptions {
  /** Policy of sessions whose policy is 'default': a preset, a registered name or a .yaml file.
   * @default process.env.GOVERNANCE_POLICY ?? 'default' */
  policy?: string;
  /** YAML policy files to load and register by their metadata.name. @default [] */
  policyFiles?: string[];
  /**
   * The only directory whose policy files a session created through the API (by an admin key) may name.
   * Unset: API sessions name presets and registered policies only. @default process.env.WARDEN_POLICY_DIR
   */
  policyDir?: string;
  /** Detectors run after the built-in ones (for example an EndpointDetector). @default [] */
  detectors?: Detector[];
  /** Jailbreak model in place of the shipped weights. */
  model?: DetectorModel;
  anomaly?: AnomalyOptions;
}

/** What `Governance.screen` found in a text. */
export interface ScreenResult {
  /** The policy it was judged under. */
  policy: string;
  /** What that policy would do with a task whose input this is: allow, flag or block. */
  action: GateAction;
  flags: { type: FlagType; severity: number; reason: string; detector: string }[];
  /** In [0, 1]: evidence of a jailbreak or prompt-injection technique, and of a plainly harmful request. */
  scores: { jailbreak: number; harmful: number };
  /** The scores at or above which the detector flags. */
  thresholds: { jailbreak: number; harmful: number };
  /** Which signals fired (pattern ids, 'classifier', 'adversarial-suffix', 'decoded:base64', ...). */
  signals: string[];
}

/** How `screen` sees the text: the input of a language-model agent with no network access. */
const SCREENED_LLM_AGENT = {
  apiVersion: 'warden/v1',
  name: 'screen',
  version: '0.0.0',
  runtime: 'llm',
  capabilities: [],
  network: { allow: [] },
} as unknown as AgentManifest;

export interface FlagRequest {
  type: string;
  severity: number;
  reason: string;
  /** Who raised it (recorded in provenance). */
  by?: string;
}

export interface GovernanceStats {
  total: number;
  byFlag: Record<string, number>;
  bySeverity: Record<string, number>;
  byAgent: Record<string, number>;
}

/** Governance of one Warden: policies, the task gate, flags, quarantine release, merge validation, stats. */
export class Governance {
  readonly policies = new PolicyRegistry();
  readonly gate: GovernanceGate;
  private readonly policyDir: string | undefined;
  private readonly model: () => DetectorModel;

  private constructor(
    private readonly store: GovernanceStore,
    options: GovernanceOptions,
  ) {
    const dir = options.policyDir ?? process.env['WARDEN_POLICY_DIR'];
    this.policyDir = dir ? resolve(dir) : undefined;
    const model = options.model;
    this.model = model ? () => model : defaultDetectorModel;
    const detectors: Detector[] = [
      new JailbreakDetector(this.model),
      new UnsafeCodeDetector(),
      ...(options.detectors ?? []),
    ];
    this.gate = new GovernanceGate(store, this.policies, detectors, new AnomalyDetector(options.anomaly));
  }

  static async open(store: GovernanceStore, options: GovernanceOptions = {}): Promise<Governance> {
    const g = new Governance(store, options);
    for (const file of options.policyFiles ?? []) await g.policies.load(file);
    await g.policies.setDefault(options.policy ?? process.env['GOVERNANCE_POLICY'] ?? 'default');
    return g;
  }

  async policyFor(session: Session): Promise<GovernancePolicy> {
    return this.gate.policyOf(session);
  }

  /**
   * The policy a new session stores (see Session.policyDocument): a preset, a registered policy, a .yaml
   * file read now, or 'default' (this process's default policy, resolved once, for every process).
   * Throws INVALID_POLICY for an unknown name, so a session never exists with a policy nobody can apply.
   */
  async sessionPolicy(name: string): Promise<GovernancePolicy> {
    return this.policies.resolve(name);
  }

  /** Whether a session's policy names a file (a path) rather than a preset or registered policy. */
  static namesFile(policy: string): boolean {
    return /\.ya?ml$/i.test(policy) || policy.includes('/') || policy.includes('\\');
  }

  /**
   * The path of a policy file that a session created through the API names: only inside the policy
   * directory (symlinks resolved), so that a key cannot make the server read any file it can reach.
   */
  policyFileInDir(name: string): string {
    const dir = this.policyDir;
    if (!dir)
      throw new WardenError(
        'POLICY_FILE_FORBIDDEN',
        `This server reads no policy files for sessions (no policy directory): name a preset (permissive, default, strict) or a registered policy, or start the server with WARDEN_POLICY_DIR=<dir>`,
        { details: { policy: name } },
      );
    const path = resolve(dir, name);
    const real = (p: string) => {
      try {
        return realpathSync(p);
      } catch {
        return p;
      }
    };
    const within = relative(real(dir), real(path));
    if (
      isAbsolute(name) ||
      within === '' ||
      within.startsWith(`..${sep}`) ||
      within === '..' ||
      isAbsolute(within)
    )
      throw new WardenError(
        'POLICY_FILE_FORBIDDEN',
        `Policy file ${name} is outside the server's policy directory: name a file inside it (relative, such as finance.yaml)`,
        { details: { policy: name } },
      );
    return path;
  }

  /**
   * Screens a task's input at submit. Returns the flags to store with the task (undefined, synchronously,
   * when there is nothing to screen); records the block and throws GOVERNANCE_BLOCKED when the policy blocks.
   */
  screenSubmit(
    ctx: SubmitContext,
  ): readonly TraceFlagRecord[] | undefined | Promise<readonly TraceFlagRecord[] | undefined> {
    const d = this.gate.beforeSubmit(ctx);
    if (d === undefined) return undefined;
    const enforce = (decision: Awaited<typeof d>) => {
      if (!decision) return undefined;
      if (decision.action !== 'block') return decision.flags;
      const worst = decision.flags.reduce((a, b) => (b.severity > a.severity ? b : a));
      return this.store
        .recordGovernance({
          type: 'governance.blocked',
          sessionId: ctx.session.id,
          at: ctx.now,
          taskId: ctx.taskId,
          agent: `${ctx.manifest.name}@${ctx.manifest.version}`,
          data: { policy: decision.policy, stage: 'input' },
          flags: decision.flags,
        })
        .then(() => {
          throw new WardenError(
            'GOVERNANCE_BLOCKED',
            `Policy ${decision.policy} blocked the task: ${worst.type} (severity ${worst.severity}): ${worst.reason}`,
            {
              details: {
                taskId: ctx.taskId,
                policy: decision.policy,
                flags: decision.flags.map((f) => ({ type: f.type, severity: f.severity, reason: f.reason })),
              },
            },
          );
        });
    };
    return d instanceof Promise ? d.then(enforce) : enforce(d);
  }

  /**
   * Screens text as the input of a language-model agent under a policy (the default policy unless named),
   * storing nothing: the flags the detectors raise, what the policy would do, and the scores behind them
   * with their thresholds, so a caller can pick its own operating point.
   * @example const r = await warden.governance.screen('Ignore all previous instructions and ...');
   */
  async screen(text: string | readonly string[], options: { policy?: string } = {}): Promise<ScreenResult> {
    const texts = (typeof text === 'string' ? [text] : [...text]).filter((t) => t.length > 0);
    const policy = await this.sessionPolicy(options.policy ?? 'default');
    const { action, findings } = await this.gate.screenTexts(policy, texts, SCREENED_LLM_AGENT);
    const model = this.model();
    let jailbreak = 0;
    let harmful = 0;
    const signals = new Set<string>();
    for (const t of texts) {
      const a = analyzeText(t, model);
      jailbreak = Math.max(jailbreak, a.jailbreak);
      harmful = Math.max(harmful, a.harmful);
      for (const s of a.signals) signals.add(s);
    }
    return {
      policy: policy.name,
      action,
      flags: findings.map((f) => ({
        type: f.type,
        severity: f.severity,
        reason: f.reason,
        detector: f.detector,
      })),
      scores: { jailbreak, harmful },
      thresholds: thresholdsOf(policy, model),
      signals: [...signals],
    };
  }

  /** A person's flag (`warden flag`): stored and recorded in the task's session chain. */
  async flag(task: Task, request: FlagRequest, now = Date.now()): Promise<TraceFlag> {
    const type = parseFlagType(request.type);
    const severity = checkSeverity(request.severity);
    if (request.reason.trim() === '')
      throw new WardenError('INVALID_FLAG', 'A flag needs a reason (--reason "...")');
    const record = toRecord(
      { type, severity, reason: request.reason, detector: request.by ? `person:${request.by}` : 'person' },
      { sessionId: task.sessionId, taskId: task.id, agentKey: task.agent, stage: 'manual', now },
      false,
    );
    await this.store.recordGovernance({
      type: 'governance.flagged',
      sessionId: task.sessionId,
      at: now,
      taskId: task.id,
      agent: task.agent,
      data: {},
      flags: [record],
    });
    return fromRecord(record);
  }

  /** Moves a quarantined task on to succeeded; recorded as 'task.released'. */
  async release(
    taskId: string,
    options: { reason?: string; by?: string } = {},
    now = Date.now(),
  ): Promise<Task> {
    return this.store.releaseQuarantined(taskId, now, {
      ...(options.reason ? { reason: options.reason } : {}),
      ...(options.by ? { by: options.by } : {}),
    });
  }

  async flags(filter: { sessionId?: string; taskIds?: string[]; limit?: number } = {}): Promise<TraceFlag[]> {
    return (await this.store.listFlags(filter)).map(fromRecord);
  }

  /** Counts of flags by type, severity and agent version (of one session, or all). */
  async stats(sessionId?: string): Promise<GovernanceStats> {
    const out: GovernanceStats = { total: 0, byFlag: {}, bySeverity: {}, byAgent: {} };
    for (const c of await this.store.flagCounts(sessionId)) {
      out.total += c.count;
      out.byFlag[c.type] = (out.byFlag[c.type] ?? 0) + c.count;
      out.bySeverity[String(c.severity)] = (out.bySeverity[String(c.severity)] ?? 0) + c.count;
      out.byAgent[c.agentKey] = (out.byAgent[c.agentKey] ?? 0) + c.count;
    }
    return out;
  }

  /** The counts of several sessions added up (a tenant's sessions, for the API and MCP). */
  async statsOf(sessionIds: readonly string[]): Promise<GovernanceStats> {
    const total: GovernanceStats = { total: 0, byFlag: {}, bySeverity: {}, byAgent: {} };
    for (const id of sessionIds) {
      const stats = await this.stats(id);
      total.total += stats.total;
      for (const field of ['byFlag', 'bySeverity', 'byAgent'] as const)
        for (const [k, n] of Object.entries(stats[field])) total[field][k] = (total[field][k] ?? 0) + n;
    }
    return total;
  }

  /**
   * validate_merge: reports, per task or trace id, whether the session's policy lets it be merged; the
   * decision is recorded in the session's chain.
   * @example
   * const report = await warden.governance.validateMerge(await warden.getSession('tenant'), [taskId]);
   * if (!report.ok) console.log(report.verdicts.flatMap((v) => v.reasons));
   */
  async validateMerge(session: Session, ids: readonly string[], now = Date.now()): Promise<MergeReport> {
    return validateMerge(this.store, session, await this.policyFor(session), ids, now);
  }

  /** validateMerge that throws MERGE_REFUSED (with the report in details) unless every id is accepted. */
  async assertMergeable(session: Session, ids: readonly string[], now = Date.now()): Promise<MergeReport> {
    const report = await this.validateMerge(session, ids, now);
    if (!report.ok) {
      const refused = report.verdicts.filter((v) => !v.accepted);
      throw new WardenError(
        'MERGE_REFUSED',
        `Policy ${report.policy} refuses to merge ${refused.map((v) => `${v.id} (${v.reasons.join('; ')})`).join(', ')}`,
        { details: { report } },
      );
    }
    return report;
  }
}
