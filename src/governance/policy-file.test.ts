import { describe, expect, it } from 'vitest';
import { WardenError } from '../core/index.js';
import { parsePolicy } from './policy-file.js';
import { decide, PRESETS } from './policy.js';

const valid = `apiVersion: warden.dev/v1
kind: GovernancePolicy
metadata: { name: finance }
spec:
  extends: strict
  blockAtSeverity: 7
  merge: { refuseAtSeverity: 5 }
  rules:
    - match: { runtime: llm, flags: [Jailbreak], minSeverity: 4, stage: input }
      action: block
    - match: { agent: "report-*", flags: [Anomaly] }
      action: allow
`;

describe('governance policy YAML', () => {
  it('applies a valid policy over its preset', () => {
    const p = parsePolicy(valid, 'finance.yaml');
    expect(p).toMatchObject({
      name: 'finance',
      blockAtSeverity: 7,
      autoQuarantine: true, // from strict
      merge: { refuseAtSeverity: 5, requireVerified: true, requireSucceeded: true },
      detect: PRESETS.strict.detect,
    });
    expect(p.rules).toHaveLength(2);
  });

  // Each invalid document must fail with INVALID_POLICY naming the file, the line and the field.
  it.each([
    [
      'wrong kind',
      valid.replace('kind: GovernancePolicy', 'kind: Agent'),
      2,
      'kind: must be GovernancePolicy',
    ],
    [
      'unknown preset',
      valid.replace('extends: strict', 'extends: lax'),
      5,
      'spec.extends: must be one of permissive, default, strict',
    ],
    [
      'severity out of range',
      valid.replace('blockAtSeverity: 7', 'blockAtSeverity: 12'),
      6,
      'spec.blockAtSeverity',
    ],
    [
      'unknown flag type',
      valid.replace('flags: [Jailbreak]', 'flags: [Jailbrake]'),
      9,
      'spec.rules.0.match.flags.0: must be one of',
    ],
    [
      'unknown action',
      valid.replace('action: block', 'action: destroy'),
      10,
      'spec.rules.0.action: must be allow, flag, quarantine or block',
    ],
    [
      'misspelt field',
      valid.replace('autoQuarantine', 'x').replace('blockAtSeverity: 7', 'blockAtSeverty: 7'),
      6,
      'unknown field "blockAtSeverty"',
    ],
    [
      'unknown match field',
      valid.replace('minSeverity: 4', 'minSeverity: 4, tenant: x'),
      9,
      'unknown field "tenant"',
    ],
    [
      'bad name',
      valid.replace('name: finance', 'name: Finance Team'),
      3,
      'metadata.name: must be a lowercase name',
    ],
    ['YAML syntax', 'apiVersion: warden.dev/v1\nkind: [GovernancePolicy\n', 3, '(yaml)'],
  ])('%s', (_what, text, line, message) => {
    let err: unknown;
    try {
      parsePolicy(text, 'finance.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WardenError);
    expect((err as WardenError).code).toBe('INVALID_POLICY');
    expect((err as WardenError).message).toContain(`finance.yaml:${line}:`);
    expect((err as WardenError).message).toContain(message);
  });

  it('decides by rules first, then by the preset thresholds', () => {
    const p = parsePolicy(valid, 'finance.yaml');
    const llm = {
      name: 'chat',
      version: '1.0.0',
      runtime: 'llm' as const,
      capabilities: [],
      network: { allow: [] },
    };
    const report = { ...llm, name: 'report-daily', runtime: 'node' as const };
    expect(decide(p, 'input', [{ type: 'Jailbreak', severity: 4 }], llm)).toBe('block'); // rule
    expect(decide(p, 'input', [{ type: 'Jailbreak', severity: 4 }], report)).toBe('flag'); // below 7
    expect(decide(p, 'input', [{ type: 'Unsafe', severity: 8 }], report)).toBe('block'); // blockAtSeverity
    expect(decide(p, 'output', [{ type: 'Anomaly', severity: 9 }], report)).toBe('allow'); // rule
    expect(decide(p, 'output', [{ type: 'Unsafe', severity: 6 }], report)).toBe('quarantine'); // strict autoQuarantine
    expect(decide(PRESETS.default, 'input', [{ type: 'Jailbreak', severity: 10 }], llm)).toBe('flag');
    expect(decide(PRESETS.default, 'output', [{ type: 'Jailbreak', severity: 10 }], llm)).toBe('flag');
    expect(decide(PRESETS.strict, 'input', [{ type: 'HighRisk', severity: 3 }], llm)).toBe('flag');
  });
});
