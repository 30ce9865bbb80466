import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../helpers.js';
import { EdgeLab } from './edge-lab.js';

// Issue 15: an edge in its own network namespace, joined to the control plane over a veth pair with
// addresses of this test's own, so its traffic crosses a real link and not loopback.

const tag = process.pid % 10_000;
const ns = `wdn-edge-${tag}`;
const hostIf = `wve${tag}h`;
const nsIf = `wve${tag}n`;
const subnet = `10.231.${tag % 250}`;
const hostIp = `${subnet}.1`;
const nsIp = `${subnet}.2`;

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

function makeNamespace(): string | null {
  try {
    ip('netns', 'add', ns);
    ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
    ip('link', 'set', nsIf, 'netns', ns);
    ip('addr', 'add', `${hostIp}/30`, 'dev', hostIf);
    ip('link', 'set', hostIf, 'up');
    ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${nsIp}/30`, 'dev', nsIf);
    ip('netns', 'exec', ns, 'ip', 'link', 'set', nsIf, 'up');
    ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
    return null;
  } catch (err) {
    removeNamespace();
    return (err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message;
  }
}

function removeNamespace(): void {
  for (const args of [
    ['link', 'del', hostIf],
    ['netns', 'del', ns],
  ])
    try {
      ip(...args);
    } catch {
      // already gone
    }
}

const problem = makeNamespace();
if (problem) {
  const message = `network namespaces cannot be made here (${problem}): run as root with iproute2 (apt-get install -y iproute2)`;
  if (process.env['CI']) throw new Error(`edge-netns: ${message}; CI must be able to`);
  console.warn(`\n*** SKIPPING the edge network-namespace test: ${message} ***\n`);
}

const bytes = (dir: 'rx' | 'tx') =>
  Number(readFileSync(`/sys/class/net/${hostIf}/statistics/${dir}_bytes`, 'utf8'));

describe.skipIf(problem !== null)('an edge node in its own network namespace', () => {
  const lab = new EdgeLab();
  let edge: Awaited<ReturnType<EdgeLab['join']>>;
  beforeAll(async () => {
    await lab.registerAgent();
    // A long resume grace: the edge must come back on the same lease after the link is restored.
    await lab.serve(hostIp, { WARDEN_EDGE_RESUME_GRACE_MS: '30000' });
    await lab.call('POST', '/sessions', { name: 'far-away' });
  }, 60_000);
  afterAll(async () => {
    await lab.stop();
    removeNamespace();
  }, 30_000);

  it('joins across the veth link, runs a placed task, and its receipt verifies offline', async () => {
    const rxBefore = bytes('rx');
    edge = await lab.join('netns-edge', await lab.invite(), {
      url: `ws://${hostIp}:${lab.port}`,
      wrap: ['ip', 'netns', 'exec', ns],
    });
    // The namespace has no route to loopback's 127.0.0.1 of the host: the connection can only be the link.
    const r = await lab.run('far-away', 'words that crossed a real link');
    expect(r.state).toBe('succeeded');
    expect(r.output).toMatchObject({ words: 6 });
    expect(bytes('rx') - rxBefore).toBeGreaterThan(1_000);

    const path = join(lab.tempDir(), 'bundle.json');
    await lab.ok(['--data', lab.cpData, 'export', '-s', 'far-away', '-o', path]);
    const records = (
      JSON.parse(readFileSync(path, 'utf8')) as { records: { type: string; data?: { nodeId?: string } }[] }
    ).records;
    expect(records.filter((x) => x.type === 'task.receipt').map((x) => x.data!.nodeId)).toEqual([
      edge.nodeId,
    ]);
    const verify = await lab.cli(['verify', path]);
    expect(verify.code, verify.stderr).toBe(0);
  }, 90_000);

  it('the link cut mid-task and restored: the edge reconnects and resumes; one attempt, to success', async () => {
    const id = await lab.submitSlow('far-away', 4_000);
    await lab.busyEdge();
    ip('link', 'set', hostIf, 'down');
    await sleep(2_500);
    ip('link', 'set', hostIf, 'up');
    expect(await lab.result(id)).toMatchObject({
      status: 'succeeded',
      attempts: 1,
      output: { slept: 4_000 },
    });
    expect((edge.proc.stderr().match(/connected to/g) ?? []).length).toBeGreaterThanOrEqual(2);
  }, 90_000);
});
