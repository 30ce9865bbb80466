import { describe, expect, it } from 'vitest';
import { inputWithMemories, memoryQuery, rememberItems } from './retrieval.js';

describe('memory retrieval and remember items', () => {
  it.each([
    ['a string input is the query', 'where is it?', 'where is it?'],
    ['query wins over text', { text: 'b', query: 'a' }, 'a'],
    ['then text, prompt, question', { question: 'q', prompt: 'p' }, 'p'],
    ['a blank field is skipped', { query: '  ', question: 'q' }, 'q'],
    ['else canonical JSON', { b: 1, a: [2] }, '{"a":[2],"b":1}'],
    ['a number', 42, '42'],
  ])('%s', (_what, input, query) => {
    expect(memoryQuery(input)).toBe(query);
  });

  it('adds memories to an object input and wraps any other', () => {
    const m = [{ id: 'x', text: 't', score: 0.5, metadata: {}, createdAt: 1 }];
    expect(JSON.parse(inputWithMemories({ q: 1, memories: 'old' }, m))).toEqual({ q: 1, memories: m });
    expect(JSON.parse(inputWithMemories([1], m))).toEqual({ input: [1], memories: m });
    expect(JSON.parse(inputWithMemories(null, []))).toEqual({ input: null, memories: [] });
  });

  it('reads remember items and refuses malformed ones by index', () => {
    expect(rememberItems({ answer: 1 })).toEqual([]);
    expect(rememberItems('text')).toEqual([]);
    expect(rememberItems({ remember: ['a', { text: 'b', metadata: { k: 1 }, ttlMs: 5 }] })).toEqual([
      { text: 'a' },
      { text: 'b', metadata: { k: 1 }, ttlMs: 5 },
    ]);
    expect(() => rememberItems({ remember: ['a', 7] })).toThrow(/remember\[1\]/);
    expect(() => rememberItems({ remember: [{ text: 'a', ttlMs: -1 }] })).toThrow(/ttlMs/);
    expect(() => rememberItems({ remember: [{ text: 'a', metadata: [] }] })).toThrow(/metadata/);
  });
});
