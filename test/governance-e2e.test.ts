import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WardenError, type Warden } from '../src/index.js';
import { openWarden, tempDir } from './helpers.js';
import { INJECTED_OUTPUT, JAILBREAK } from './fixtures/prompts.js';

// The "must show": one jailbreak-laden input to an LLM-style agent under each preset, and a
// quarantined result that cannot be merged.

async function llmAgent(
  policy: string,
  reply = (p: string) => `You asked ${p.length} characters.`,
): Promise<Warden> {
  const warden = await openWarden({ workers: { concurrency: 4 } });
  // An inline stand-in for a runtime-llm agent: governance scopes text detection by capability 'text'.
  await warden.registerHandler('chat', (input: { prompt: string }) => ({ reply: reply(input.prompt) }), {
    capabilities: ['text'],
  });
  await warden.ensureSession({ name: 'tenant', policy });
  return warden;
}

async function chainTypes(warden: Warden): Promise<string[]> {
  const session = await warden.getSession('tenant');
  return (await warden.store.readChain(session.id)).map(
    (l) => (JSON.parse(l.recordJson) as { type: string }).type,
  );
}

describe('governance end to end', () => {
  it('strict: a jailbreak input is flagged and blocked, and the block is a provenance record', async () => {
    const warden = await llmAgent('strict');
    const err = await warden
      .submit({ agent: 'chat', session: 'tenant', input: { prompt: JAILBREAK } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WardenError);
    expect((err as WardenError).code).toBe('GOVERNANCE_BLOCKED');
    expect((err as WardenError).status).toBe(403);
    const session = await warden.getSession('tenant');
    const flags = await warden.governance.flags({ sessionId: session.id });
    expect(flags.map((f) => f.type)).toContain('Jailbreak');
    expect(flags[0]!.severity).toBeGreaterThanOrEqual(5);
    expect(flags[0]!.autoDetected).toBe(true);
    expect(await warden.listTasks({ session: 'tenant' })).toHaveLength(0);
    expect(await chainTypes(warden)).toEqual(['session.created', 'governance.blocked', 'governance.flagged']);
    expect((await warden.verify('tenant')).ok).toBe(true);
    // A benign prompt still runs under strict.
    const ok = await warden.submit({
      agent: 'chat',
      session: 'tenant',
      input: { prompt: 'Summarise the history of tea in China.' },
    });
    expect((await warden.result(ok.id))?.status).toBe('succeeded');
  });

  it('default: the same input is flagged but runs, and validate_merge refuses it', async () => {
    const warden = await llmAgent('default');
    const task = await warden.submit({ agent: 'chat', session: 'tenant', input: { prompt: JAILBREAK } });
    const result = await warden.result(task.id);
    expect(result?.status).toBe('succeeded');
    const flags = await warden.governance.flags({ taskIds: [task.id] });
    expect(flags).toHaveLength(1);
    expect(flags[0]).toMatchObject({
      type: 'Jailbreak',
      stage: 'input',
      taskId: task.id,
      agentKey: 'chat@1.0.0',
    });
    const session = await warden.getSession('tenant');
    const report = await warden.governance.validateMerge(session, [task.id]);
    expect(report.ok).toBe(false);
    expect(report.verdicts[0]!.reasons.join()).toMatch(/flagged Jailbreak/);
    const types = await chainTypes(warden);
    expect(types.indexOf('governance.flagged')).toBe(types.indexOf('task.submitted') + 1);
    expect(types.at(-1)).toBe('governance.merge_refused');
    expect((await warden.verify('tenant')).ok).toBe(true);
  });

  it('permissive: the same input runs without detection and merges', async () => {
    const warden = await llmAgent('permissive');
    const task = await warden.submit({ agent: 'chat', session: 'tenant', input: { prompt: JAILBREAK } });
    expect((await warden.result(task.id))?.status).toBe('succeeded');
    expect(await warden.governance.flags({ taskIds: [task.id] })).toHaveLength(0);
    const report = await warden.governance.validateMerge(await warden.getSession('tenant'), [task.id]);
    expect(report).toMatchObject({ ok: true, policy: 'permissive' });
  });

  it('strict: an injected output is quarantined, cannot be merged, and only release moves it on', async () => {
    const warden = await llmAgent('strict', () => INJECTED_OUTPUT);
    const task = await warden.submit({
      agent: 'chat',
      session: 'tenant',
      input: { prompt: 'Summarise this web page.' },
    });
    const result = await warden.result(task.id);
    expect(result?.status).toBe('quarantined');
    expect(result?.output).toEqual({ reply: INJECTED_OUTPUT }); // kept, but marked
    expect(result?.error?.code).toBe('TASK_QUARANTINED');
    expect((await warden.getTask(task.id)).state).toBe('quarantined');
    const session = await warden.getSession('tenant');
    const refused = await warden.governance.validateMerge(session, [task.id]);
    expect(refused.ok).toBe(false);
    expect(refused.verdicts[0]!.reasons.join()).toMatch(/quarantined/);
    await expect(warden.governance.assertMergeable(session, [task.id])).rejects.toMatchObject({
      code: 'MERGE_REFUSED',
    });
    // Nor is it exported as a verified result: bundles carry statements for succeeded tasks only.
    const bundle = await warden.exportProvenance('tenant');
    expect(JSON.stringify(bundle.statements)).not.toContain(result!.outputDigest!);

    const released = await warden.governance.release(task.id, { reason: 'reviewed', by: 'alice' });
    expect(released.state).toBe('succeeded');
    expect((await warden.result(task.id))?.status).toBe('succeeded');
    await expect(warden.governance.release(task.id)).rejects.toMatchObject({ code: 'INVALID_STATE' });
    // Still flagged: strict refuses any flag, released or not.
    expect((await warden.governance.validateMerge(session, [task.id])).ok).toBe(false);
    const types = await chainTypes(warden);
    expect(types).toContain('task.quarantined');
    expect(types).toContain('task.released');
    expect((await warden.verify('tenant')).ok).toBe(true);
  });

  it('a person flags a task; stats count flags by type, severity and agent', async () => {
    const warden = await llmAgent('default');
    const task = await warden.submit({
      agent: 'chat',
      session: 'tenant',
      input: { prompt: 'Write a poem about rain.' },
    });
    await warden.result(task.id);
    const flag = await warden.governance.flag(await warden.getTask(task.id), {
      type: 'highrisk',
      severity: 7,
      reason: 'reviewer: tone',
      by: 'bob',
    });
    expect(flag).toMatchObject({ type: 'HighRisk', severity: 7, autoDetected: false, stage: 'manual' });
    await expect(
      warden.governance.flag(await warden.getTask(task.id), { type: 'Nope', severity: 3, reason: 'x' }),
    ).rejects.toMatchObject({ code: 'INVALID_FLAG' });
    await expect(
      warden.governance.flag(await warden.getTask(task.id), { type: 'Anomaly', severity: 11, reason: 'x' }),
    ).rejects.toMatchObject({ code: 'INVALID_FLAG' });
    const stats = await warden.governance.stats();
    expect(stats).toMatchObject({
      total: 1,
      byFlag: { HighRisk: 1 },
      bySeverity: { '7': 1 },
      byAgent: { 'chat@1.0.0': 1 },
    });
    const report = await warden.governance.validateMerge(await warden.getSession('tenant'), [
      task.id,
      'no-such-id',
    ]);
    expect(report.verdicts.map((v) => v.accepted)).toEqual([false, false]);
  });

  it('validate_merge refuses an output whose stored bytes no longer match the recorded digest (Unverified)', async () => {
    const warden = await llmAgent('default');
    const task = await warden.submit({ agent: 'chat', session: 'tenant', input: { prompt: 'Say hello.' } });
    await warden.result(task.id);
    const session = await warden.getSession('tenant');
    expect((await warden.governance.validateMerge(session, [task.id])).ok).toBe(true);
    // Tamper with the stored output behind Warden's back.
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(`${warden.storageRoot}/warden.db`);
    db.prepare('UPDATE results SET output = ? WHERE task_id = ?').run('{"reply":"tampered"}', task.id);
    db.close();
    const report = await warden.governance.validateMerge(session, [task.id]);
    expect(report.ok).toBe(false);
    expect(report.verdicts[0]!.reasons.join()).toMatch(/unverified/);
    const flags = await warden.governance.flags({ taskIds: [task.id] });
    expect(flags.map((f) => [f.type, f.stage])).toContainEqual(['Unverified', 'merge']);
  });

  it('selects policies: GOVERNANCE_POLICY, session policy files, and INVALID_POLICY for unknown names', async () => {
    const saved = process.env['GOVERNANCE_POLICY'];
    process.env['GOVERNANCE_POLICY'] = 'strict';
    let warden: Warden;
    try {
      warden = await openWarden({ workers: { concurrency: 2 } });
    } finally {
      if (saved === undefined) delete process.env['GOVERNANCE_POLICY'];
      else process.env['GOVERNANCE_POLICY'] = saved;
    }
    await warden.registerHandler('chat', () => ({ reply: 'ok' }), { capabilities: ['text'] });
    // The default session was created under 'default', which GOVERNANCE_POLICY made strict (and stored so).
    await expect(warden.submit({ agent: 'chat', input: { prompt: JAILBREAK } })).rejects.toMatchObject({
      code: 'GOVERNANCE_BLOCKED',
    });

    const file = join(tempDir(), 'lenient.yaml');
    writeFileSync(
      file,
      'apiVersion: warden.dev/v1\nkind: GovernancePolicy\nmetadata: { name: lenient }\nspec:\n  extends: strict\n  rules:\n    - match: { agent: chat, flags: [Jailbreak] }\n      action: flag\n',
    );
    await warden.ensureSession({ name: 'lenient', policy: file });
    const task = await warden.submit({ agent: 'chat', session: 'lenient', input: { prompt: JAILBREAK } });
    expect((await warden.result(task.id))?.status).toBe('succeeded');

    // An unknown name is refused when the session is created, so no session exists that no task can run in.
    await expect(warden.ensureSession({ name: 'typo', policy: 'strikt' })).rejects.toMatchObject({
      code: 'INVALID_POLICY',
    });
  });
});
