import { WardenError } from '../core/index.js';
import { loadPolicyFile } from './policy-file.js';
import { isPreset, PRESETS, type GovernancePolicy } from './policy.js';

/**
 * Policies by name: the three presets, policies registered in code or loaded from YAML, and file paths
 * (a session's policy may name a .yaml file). The name 'default' means the process-wide default
 * (GOVERNANCE_POLICY, or WardenOptions.governance.policy), which is the 'default' preset unless set.
 */
export class PolicyRegistry {
  private readonly custom = new Map<string, GovernancePolicy>();
  private readonly loading = new Map<string, Promise<GovernancePolicy>>();
  private fallback: GovernancePolicy = PRESETS.default;

  /** Sets the policy that sessions with policy 'default' get. A preset name, a registered name, or a file. */
  async setDefault(nameOrPath: string): Promise<GovernancePolicy> {
    this.fallback = nameOrPath === 'default' ? PRESETS.default : await this.resolve(nameOrPath);
    return this.fallback;
  }

  get defaultPolicy(): GovernancePolicy {
    return this.fallback;
  }

  register(policy: GovernancePolicy): void {
    if (isPreset(policy.name))
      throw new WardenError('INVALID_POLICY', `A custom policy cannot take the preset name ${policy.name}`);
    this.custom.set(policy.name, policy);
  }

  /** Loads a YAML policy and registers it under its metadata.name. */
  async load(path: string): Promise<GovernancePolicy> {
    const policy = await loadPolicyFile(path);
    this.register(policy);
    return policy;
  }

  /** Synchronous when the policy is known (the hot path); a promise when a file must be read first. */
  resolve(name: string): GovernancePolicy | Promise<GovernancePolicy> {
    if (name === 'default') return this.fallback;
    if (isPreset(name)) return PRESETS[name];
    const known = this.custom.get(name);
    if (known) return known;
    if (/\.ya?ml$/i.test(name)) {
      let pending = this.loading.get(name);
      if (!pending) {
        pending = loadPolicyFile(name).then((p) => {
          this.custom.set(name, p);
          return p;
        });
        pending.catch(() => this.loading.delete(name));
        this.loading.set(name, pending);
      }
      return pending;
    }
    throw new WardenError(
      'INVALID_POLICY',
      `Unknown governance policy ${name}: use permissive, default, strict, a registered policy or a .yaml file`,
      {
        details: { policy: name },
      },
    );
  }
}
