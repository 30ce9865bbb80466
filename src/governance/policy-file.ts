import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { WardenError, parseYamlDocument, type DocumentIssue } from '../core/index.js';
import { FLAG_TYPES } from './flags.js';
import { PRESET_NAMES, PRESETS, type GovernancePolicy } from './policy.js';

const severity = z.number().int().min(1).max(10);
const scope = z
  .object({
    runtimes: z.array(z.string().min(1)).optional(),
    capabilities: z.array(z.string().min(1)).optional(),
  })
  .strict();

const ruleSchema = z
  .object({
    match: z
      .object({
        agent: z.string().min(1).optional(),
        runtime: z.string().min(1).optional(),
        capability: z.string().min(1).optional(),
        network: z.boolean().optional(),
        flags: z
          .array(z.enum(FLAG_TYPES, { message: `must be one of ${FLAG_TYPES.join(', ')}` }))
          .min(1)
          .optional(),
        minSeverity: severity.optional(),
        maxSeverity: severity.optional(),
        stage: z.enum(['input', 'output']).optional(),
      })
      .strict(),
    action: z.enum(['allow', 'flag', 'quarantine', 'block'], {
      message: 'must be allow, flag, quarantine or block',
    }),
  })
  .strict();

export const policyFileSchema = z
  .object({
    apiVersion: z.literal('warden.dev/v1', { message: 'must be warden.dev/v1' }),
    kind: z.literal('GovernancePolicy', { message: 'must be GovernancePolicy' }),
    metadata: z
      .object({
        name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'must be a lowercase name (a-z, 0-9, . _ -)'),
        description: z.string().max(2000).optional(),
      })
      .strict(),
    spec: z
      .object({
        extends: z
          .enum(PRESET_NAMES, { message: `must be one of ${PRESET_NAMES.join(', ')}` })
          .default('default'),
        detect: z
          .object({
            input: z.boolean().optional(),
            output: z.boolean().optional(),
            anomaly: z.boolean().optional(),
          })
          .strict()
          .optional(),
        textScope: scope.optional(),
        codeScope: scope.optional(),
        blockAtSeverity: severity.nullable().optional(),
        autoQuarantine: z.boolean().optional(),
        quarantineAtSeverity: severity.optional(),
        merge: z
          .object({
            refuseAtSeverity: z.number().int().min(1).max(11).optional(),
            requireVerified: z.boolean().optional(),
            requireSucceeded: z.boolean().optional(),
          })
          .strict()
          .optional(),
        rules: z.array(ruleSchema).default([]),
        thresholds: z
          .object({
            jailbreak: z.number().min(0).max(1).optional(),
            harmful: z.number().min(0).max(1).optional(),
          })
          .strict()
          .optional(),
      })
      .strict(),
  })
  .strict();

export type PolicyIssue = DocumentIssue;

/** Parses and validates a GovernancePolicy YAML document over its preset. Errors name the file, line and field. */
export function parsePolicy(text: string, file = 'policy.yaml'): GovernancePolicy {
  const { metadata, spec } = parseYamlDocument(
    text,
    file,
    policyFileSchema,
    'INVALID_POLICY',
    'governance policy',
  );
  const base = PRESETS[spec.extends];
  return {
    name: metadata.name,
    detect: { ...base.detect, ...spec.detect },
    textScope: { ...base.textScope, ...spec.textScope },
    codeScope: { ...base.codeScope, ...spec.codeScope },
    blockAtSeverity: spec.blockAtSeverity === undefined ? base.blockAtSeverity : spec.blockAtSeverity,
    autoQuarantine: spec.autoQuarantine ?? base.autoQuarantine,
    quarantineAtSeverity: spec.quarantineAtSeverity ?? base.quarantineAtSeverity,
    merge: { ...base.merge, ...spec.merge },
    rules: spec.rules.map((r) => ({ match: r.match, action: r.action })),
    ...(base.thresholds || spec.thresholds ? { thresholds: { ...base.thresholds, ...spec.thresholds } } : {}),
  };
}

export async function loadPolicyFile(path: string): Promise<GovernancePolicy> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new WardenError('FILE_NOT_FOUND', `Cannot read governance policy ${path}`, {
      cause,
      details: { path },
    });
  }
  return parsePolicy(text, path);
}
