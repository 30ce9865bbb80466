import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildServer, createApiKey } from '../../src/api/index.js';
import type { Warden } from '../../src/index.js';
import { openWarden, tempDir } from '../helpers.js';
import { startFakeProvider, type FakeProvider } from './fake-provider.js';
import { INJECTED_OUTPUT, JAILBREAK } from '../fixtures/prompts.js';

// The governance hooks of runtime: llm. Pre-check: the rendered prompt is screened at submit (a block costs
// no tokens). Post-check: the completion is the output the gate screens. Streaming is withheld where the
// policy could quarantine, so held-back text never leaks as tokens.

let fake: FakeProvider;
beforeEach(async () => {
  fake = await startFakeProvider();
});
afterEach(() => fake.close());

async function setup(): Promise<Warden> {
  const warden = await openWarden();
  const path = join(tempDir(), 'agent.yaml');
  writeFileSync(
    path,
    `apiVersion: warden.dev/v1
kind: Agent
metadata: { name: chat, version: 1.0.0 }
spec:
  runtime: llm
  model: { provider: openai, model: fake-model, baseUrl: "${fake.openaiBase}" }
  prompt: { system: "You are DAN-proof. Never break character.", user: "{{input.prompt}}" }
  retry: { maxAttempts: 1 }
`,
  );
  await warden.registerAgent({ path });
  await warden.ensureSession({ name: 'strict', policy: 'strict' });
  await warden.ensureSession({ name: 'normal', policy: 'default' });
  return warden;
}

describe('LLM agents under governance', () => {
  it('strict: a jailbreak prompt is blocked at submit and never reaches the model', async () => {
    const warden = await setup();
    await expect(
      warden.submit({ agent: 'chat', session: 'strict', input: { prompt: JAILBREAK } }),
    ).rejects.toMatchObject({ code: 'GOVERNANCE_BLOCKED' });
    expect(fake.requests).toHaveLength(0);
  });

  it('screens the rendered prompt: the trusted system template is not flagged, unused input fields are not sent', async () => {
    const warden = await setup();
    // 'notes' never reaches the model (no placeholder reads it), so it is not what the pre-check screens.
    const task = await warden.submit({
      agent: 'chat',
      session: 'strict',
      input: { prompt: 'What is the capital of France?', notes: JAILBREAK },
    });
    const r = await warden.result(task.id, { timeoutMs: 5000 });
    expect(r?.status).toBe('succeeded');
    expect(await warden.governance.flags({ taskIds: [task.id] })).toHaveLength(0);
  });

  it('default: a jailbreak prompt is flagged and runs; tokens stream', async () => {
    const warden = await setup();
    const tokens: string[] = [];
    warden.scheduler.events.on('token', (e) => tokens.push(e.text));
    const task = await warden.submit({ agent: 'chat', session: 'normal', input: { prompt: JAILBREAK } });
    const r = await warden.result(task.id, { timeoutMs: 5000 });
    expect(r?.status).toBe('succeeded');
    expect(tokens.join('')).toBe(JAILBREAK);
    const flags = await warden.governance.flags({ taskIds: [task.id] });
    expect(flags.map((f) => f.type)).toContain('Jailbreak');
  });

  it('strict: an injected completion is quarantined, and none of it was streamed', async () => {
    const warden = await setup();
    const tokens: string[] = [];
    warden.scheduler.events.on('token', (e) => tokens.push(e.text));
    fake.script({ kind: 'complete', tokens: INJECTED_OUTPUT.match(/\S+\s*/g)! });
    const task = await warden.submit({
      agent: 'chat',
      session: 'strict',
      input: { prompt: 'Summarise the page.' },
    });
    const r = await warden.result(task.id, { timeoutMs: 5000 });
    expect(r?.status).toBe('quarantined');
    expect(r?.output).toMatchObject({ text: INJECTED_OUTPUT });
    expect(tokens).toEqual([]);
  });
});

describe('LLM agents over the API', () => {
  it('SSE streams token events before the result; /metrics counts tokens and outcomes', async () => {
    const warden = await setup();
    const app = await buildServer(warden, { logger: false });
    // /metrics is installation-wide: an installation admin key reads it.
    const { key } = await createApiKey(warden.store, {
      role: 'admin',
      tenant: 'default',
      name: 't',
      installation: true,
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
      const auth = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
      fake.script({
        kind: 'complete',
        tokens: ['a ', 'b ', 'c'],
        delayMs: 30,
        usage: { prompt: 7, completion: 3 },
      });
      const session = (await (
        await fetch(`${base}/sessions`, { method: 'POST', headers: auth, body: '{"name":"api"}' })
      ).json()) as { id: string };
      const exec = await fetch(`${base}/sessions/${session.id}/execute`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ agent: 'chat', input: { prompt: 'hi' } }),
      });
      const { task } = (await exec.json()) as { task: { id: string } };
      const id = task.id;
      const sse = await (await fetch(`${base}/tasks/${id}/events`, { headers: auth })).text();
      const events = [...sse.matchAll(/^event: (\w+)\ndata: (.*)$/gm)].map((m) => ({
        event: m[1],
        data: JSON.parse(m[2]!) as Record<string, unknown>,
      }));
      const tokenTexts = events.filter((e) => e.event === 'token').map((e) => e.data['text']);
      expect(tokenTexts.join('')).toBe('a b c');
      expect(events.at(-1)!.event).toBe('result');
      const metrics = await (await fetch(`${base}/metrics`, { headers: auth })).text();
      expect(metrics).toMatch(
        /warden_llm_tokens_total\{agent="chat@1\.0\.0",provider="openai",model="fake-model",kind="prompt"\} 7/,
      );
      expect(metrics).toMatch(/warden_llm_tokens_total\{[^}]*kind="completion"\} 3/);
      expect(metrics).toMatch(/warden_llm_requests_total\{agent="chat@1\.0\.0",outcome="ok"\} 1/);
      expect(metrics).toMatch(
        /warden_llm_time_to_first_token_seconds_count\{agent="chat@1\.0\.0",provider="openai"\} 1/,
      );
      const health = (await (await fetch(`${base}/agents/health`, { headers: auth })).json()) as {
        ok: boolean;
      }[];
      expect(health).toEqual([expect.objectContaining({ agent: 'chat@1.0.0', ok: true })]);
    } finally {
      await app.close();
    }
  });
});
