import { describe, expect, it } from 'vitest';
import { openWarden } from './helpers.js';

describe('agent version resolution', () => {
  it('sends a task naming the agent to the highest pre-release by semver precedence (rc.10 after rc.9)', async () => {
    const warden = await openWarden({ workers: false });
    for (const version of ['1.0.0-rc.2', '1.0.0-rc.10', '1.0.0-rc.9'])
      await warden.registerHandler('pre', () => version, { version });
    const task = await warden.submit({ agent: 'pre', input: null });
    expect(task.agent).toBe('pre@1.0.0-rc.10');
  });

  it('refuses a handler version that is not semver, with a coded error', async () => {
    const warden = await openWarden({ workers: false });
    await expect(warden.registerHandler('bad', () => 1, { version: 'one' })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
  });
});
