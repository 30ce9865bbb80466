import { describe, expect, it } from 'vitest';
import { MAX_OUTPUT_DEPTH, agentOutputJson, nestsDeeperThan } from './agent-output.js';

describe('agent output', () => {
  it('stores compact JSON, and empty output as null', () => {
    expect(agentOutputJson('  { "a" : [1, 2] }\n')).toBe('{"a":[1,2]}');
    expect(agentOutputJson(' \n')).toBe('null');
  });

  it('accepts output nested exactly to the limit, and refuses one level more', () => {
    const at = '['.repeat(MAX_OUTPUT_DEPTH) + ']'.repeat(MAX_OUTPUT_DEPTH);
    expect(agentOutputJson(at)).toBe(at);
    const over = `[${at}]`;
    expect(() => agentOutputJson(over)).toThrow(
      expect.objectContaining({ code: 'INVALID_OUTPUT', retryable: false }),
    );
  });

  it('does not count brackets inside strings, escaped quotes included', () => {
    const text = JSON.stringify({ s: `\\"${'['.repeat(5000)}`, t: '"{{{' });
    expect(nestsDeeperThan(text, 1)).toBe(false);
    expect(agentOutputJson(text)).toBe(text);
    expect(nestsDeeperThan('[{"a":[1]}]', 2)).toBe(true);
  });

  it('refuses text that is not JSON', () => {
    expect(() => agentOutputJson('<<< nope')).toThrow(expect.objectContaining({ code: 'INVALID_OUTPUT' }));
  });
});
