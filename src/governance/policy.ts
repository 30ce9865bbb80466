import { WardenError, type AgentManifest } from '../core/index.js';
import type { FlagStage, FlagType } from './flags.js';

/** What governance does about a task: let it be, record flags, hold its result, or refuse to run it. */
export type GateAction = 'allow' | 'flag' | 'quarantine' | 'block';
const RANK: Record<GateAction, number> = { allow: 0, flag: 1, quarantine: 2, block: 3 };

export interface RuleMatch {
  /** Agent name or name@version; `*` matches any run of characters. */
  agent?: string;
  runtime?: string;
  capability?: string;
  /** true: agents with a non-empty network allow-list; false: agents without network. */
  network?: boolean;
  flags?: FlagType[];
  minSeverity?: number;
  maxSeverity?: number;
  stage?: 'input' | 'output';
}

/** A custom rule: the first rule matching a flag decides that flag's action. */
export interface PolicyRule {
  match: RuleMatch;
  action: GateAction;
}

/** Which agents a family of detectors applies to: by runtime, or by declared capability. */
export interface DetectorScope {
  runtimes: string[];
  capabilities: string[];
}

/** A compiled governance policy (a preset, or a YAML policy applied over one). */
export interface GovernancePolicy {
  name: string;
  detect: { input: boolean; output: boolean; anomaly: boolean };
  /** Jailbreak and harmful-request detection: text going to or coming from language models. */
  textScope: DetectorScope;
  /** Unsafe-code detection: agents that run code or shell commands. */
  codeScope: DetectorScope;
  /** Input flags at or above this severity block the task at submit; null never blocks. */
  blockAtSeverity: number | null;
  /** Output flags at or above quarantineAtSeverity quarantine the result. */
  autoQuarantine: boolean;
  quarantineAtSeverity: number;
  merge: {
    /** validate_merge refuses traces with a flag at or above this severity (11: flags never refuse). */
    refuseAtSeverity: number;
    /** Refuse results whose provenance does not verify. */
    requireVerified: boolean;
    /** Refuse tasks that did not succeed (failed, dead, cancelled, still running). */
    requireSucceeded: boolean;
  };
  rules: PolicyRule[];
  /**
   * Score thresholds of the text detectors, in [0, 1] (see `warden governance screen`, which shows the
   * scores): a lower jailbreak threshold catches more attacks and flags more benign text. Unset: the
   * shipped model's own.
   */
  thresholds?: { jailbreak?: number; harmful?: number };
}

export const PRESET_NAMES = ['permissive', 'default', 'strict'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

const TEXT_SCOPE: DetectorScope = { runtimes: ['llm'], capabilities: ['text', 'llm', 'chat', 'prompt'] };
const CODE_SCOPE: DetectorScope = {
  runtimes: ['llm'],
  capabilities: ['code', 'shell', 'exec', 'python', 'javascript', 'sql'],
};

/** The presets, as documented in docs/governance.md. */
export const PRESETS: Record<PresetName, GovernancePolicy> = {
  permissive: {
    name: 'permissive',
    detect: { input: false, output: false, anomaly: false },
    textScope: TEXT_SCOPE,
    codeScope: CODE_SCOPE,
    blockAtSeverity: null,
    autoQuarantine: false,
    quarantineAtSeverity: 11,
    merge: { refuseAtSeverity: 9, requireVerified: true, requireSucceeded: false },
    rules: [],
  },
  default: {
    name: 'default',
    detect: { input: true, output: true, anomaly: true },
    textScope: TEXT_SCOPE,
    codeScope: CODE_SCOPE,
    blockAtSeverity: null,
    autoQuarantine: false,
    quarantineAtSeverity: 8,
    merge: { refuseAtSeverity: 7, requireVerified: true, requireSucceeded: true },
    rules: [],
  },
  strict: {
    name: 'strict',
    detect: { input: true, output: true, anomaly: true },
    textScope: TEXT_SCOPE,
    codeScope: CODE_SCOPE,
    blockAtSeverity: 5,
    autoQuarantine: true,
    quarantineAtSeverity: 5,
    merge: { refuseAtSeverity: 1, requireVerified: true, requireSucceeded: true },
    rules: [],
    // Lower than the model's own 0.6, still above the 0.4 a long text can score on style alone
    // (docs/governance.md has the figures at each threshold).
    thresholds: { jailbreak: 0.45 },
  },
};

export function isPreset(name: string): name is PresetName {
  return (PRESET_NAMES as readonly string[]).includes(name);
}

export function presetPolicy(name: string): GovernancePolicy {
  if (!isPreset(name))
    throw new WardenError(
      'INVALID_POLICY',
      `Unknown governance policy ${name}: use ${PRESET_NAMES.join(', ')} or load a policy file`,
      {
        details: { policy: name },
      },
    );
  return PRESETS[name];
}

/** Does a detector family apply to this agent? Decided once per agent version and cached by the caller. */
export function inScope(
  scope: DetectorScope,
  manifest: Pick<AgentManifest, 'runtime' | 'capabilities'>,
): boolean {
  return (
    scope.runtimes.includes(manifest.runtime) ||
    manifest.capabilities.some((c) => scope.capabilities.includes(c))
  );
}

interface FlagLike {
  type: FlagType;
  severity: number;
}

/** The action for a set of flags at one stage: the strongest of each flag's action. */
export function decide(
  policy: GovernancePolicy,
  stage: Exclude<FlagStage, 'manual' | 'merge'>,
  flags: readonly FlagLike[],
  manifest: Pick<AgentManifest, 'name' | 'version' | 'runtime' | 'capabilities' | 'network'>,
): GateAction {
  let action: GateAction = 'allow';
  for (const f of flags) {
    let a = ruleAction(policy.rules, stage, f, manifest) ?? defaultAction(policy, stage, f);
    // Nothing can be blocked once it ran, and an input is never "quarantined": it runs or it does not.
    if (stage === 'output' && a === 'block') a = 'quarantine';
    if (stage === 'input' && a === 'quarantine') a = 'flag';
    if (RANK[a] > RANK[action]) action = a;
  }
  return action;
}

function defaultAction(policy: GovernancePolicy, stage: 'input' | 'output', f: FlagLike): GateAction {
  if (stage === 'input')
    return policy.blockAtSeverity !== null && f.severity >= policy.blockAtSeverity ? 'block' : 'flag';
  return policy.autoQuarantine && f.severity >= policy.quarantineAtSeverity ? 'quarantine' : 'flag';
}

function ruleAction(
  rules: readonly PolicyRule[],
  stage: 'input' | 'output',
  f: FlagLike,
  m: Pick<AgentManifest, 'name' | 'version' | 'runtime' | 'capabilities' | 'network'>,
): GateAction | undefined {
  for (const { match: r, action } of rules) {
    if (r.stage && r.stage !== stage) continue;
    if (r.flags && !r.flags.includes(f.type)) continue;
    if (r.minSeverity !== undefined && f.severity < r.minSeverity) continue;
    if (r.maxSeverity !== undefined && f.severity > r.maxSeverity) continue;
    if (r.runtime && r.runtime !== m.runtime) continue;
    if (r.capability && !m.capabilities.includes(r.capability)) continue;
    if (r.network !== undefined && r.network !== m.network.allow.length > 0) continue;
    if (r.agent && !glob(r.agent).test(r.agent.includes('@') ? `${m.name}@${m.version}` : m.name)) continue;
    return action;
  }
  return undefined;
}

function glob(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
}
