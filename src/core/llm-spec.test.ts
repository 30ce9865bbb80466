import { describe, expect, it } from 'vitest';
import { WardenError } from './errors.js';
import { compilePrompt, compileTemplate, normalizePrompt } from './llm-spec.js';
import { parseManifest } from './manifest.js';

/** Runs `fn` and returns what it threw (fails the test when it does not throw). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

describe('compileTemplate', () => {
  const input = { a: { b: 'deep' }, x: 'spaced', n: 42, obj: { k: [1, 2] }, nil: null, list: ['p', 'q'] };

  it('renders {{input}} as the whole input in JSON', () => {
    const t = compileTemplate('Input: {{input}}');
    expect(t.render(input)).toBe(`Input: ${JSON.stringify(input)}`);
    expect(t.fields).toEqual(['']);
    expect(compileTemplate('{{ input }}').render('just text')).toBe('just text');
  });

  it('renders dotted fields, with or without spaces inside the braces', () => {
    const t = compileTemplate('A={{input.a.b}}; X={{ input.x }}.');
    expect(t.render(input)).toBe('A=deep; X=spaced.');
    expect(t.fields).toEqual(['a.b', 'x']);
  });

  it('inserts strings verbatim and numbers, null and objects as JSON', () => {
    const t = compileTemplate('{{input.x}}|{{input.n}}|{{input.obj}}|{{input.nil}}|{{input.list.1}}');
    expect(t.render(input)).toBe('spaced|42|{"k":[1,2]}|null|q');
    expect(compileTemplate('"{{input.s}}"').render({ s: 'has "quotes"\nand a newline' })).toBe(
      '"has "quotes"\nand a newline"',
    );
  });

  it('does not expand placeholders that appear inside inserted values', () => {
    const t = compileTemplate('{{input.a}} and {{input.b}}');
    expect(t.render({ a: '{{input.b}}', b: 'B' })).toBe('{{input.b}} and B');
  });

  it('lists the dotted paths it reads, in order', () => {
    const t = compileTemplate('{{input}} {{input.a.b.c}} {{ input.list.0 }} {{input.x}}');
    expect(t.source).toBe('{{input}} {{input.a.b.c}} {{ input.list.0 }} {{input.x}}');
    expect(t.fields).toEqual(['', 'a.b.c', 'list.0', 'x']);
  });

  it('throws INVALID_INPUT naming input.<path> when the input lacks a field', () => {
    const t = compileTemplate('Hello {{input.user.name}}');
    for (const bad of [{}, { user: {} }, { user: 'a string' }, { user: null }, 'text', null]) {
      const err = thrown(() => t.render(bad));
      expect(err).toBeInstanceOf(WardenError);
      expect((err as WardenError).code).toBe('INVALID_INPUT');
      expect(err.message).toContain('input.user.name');
      expect((err as WardenError).details).toEqual({ field: 'input.user.name' });
    }
  });

  it('does not read inherited properties as fields', () => {
    const err = thrown(() => compileTemplate('{{input.toString}}').render({}));
    expect((err as WardenError).code).toBe('INVALID_INPUT');
    expect(err.message).toContain('input.toString');
  });

  it.each(['{{name}}', '{{input..a}}', '{{ foo.bar }}', '{{input.}}', '{{}}', '{{input a}}'])(
    'rejects the placeholder %s at compile time',
    (source) => {
      const err = thrown(() => compileTemplate(`Say: ${source}`));
      expect(err).toBeInstanceOf(Error);
      expect(err.message).toContain(`placeholder ${source}`);
      expect(err.message).toContain('{{input.field}}');
    },
  );

  it.each(['Hello {{input.a', '{{input.a}} and {{', 'open {{ here'])(
    'rejects an unclosed "{{" in %j',
    (source) => {
      const err = thrown(() => compileTemplate(source));
      expect(err.message).toContain('unclosed "{{"');
    },
  );

  it('renders a template without placeholders unchanged', () => {
    const source = 'Summarise the weather. Single braces { } and a lone }} are fine.';
    const t = compileTemplate(source);
    expect(t.fields).toEqual([]);
    expect(t.render({ anything: 1 })).toBe(source);
    expect(t.render(undefined)).toBe(source);
  });
});

describe('compilePrompt and normalizePrompt', () => {
  it('compiles and renders a system and a user template', () => {
    const p = compilePrompt({ system: 'You answer in {{input.lang}}.', user: 'Q: {{input.q}}' });
    expect(p.system?.fields).toEqual(['lang']);
    expect(p.user.fields).toEqual(['q']);
    expect(p.render({ lang: 'French', q: 'why?' })).toEqual({
      system: 'You answer in French.',
      user: 'Q: why?',
    });
  });

  it('renders no system message when there is no system template', () => {
    const p = compilePrompt({ user: '{{input}}' });
    expect(p.system).toBeUndefined();
    const rendered = p.render({ a: 1 });
    expect(rendered).toEqual({ user: '{"a":1}' });
    expect('system' in rendered).toBe(false);
  });

  it('throws at compile time for a bad placeholder in either template', () => {
    expect(() => compilePrompt({ system: '{{sys}}', user: 'ok' })).toThrow('placeholder {{sys}}');
    expect(() => compilePrompt({ user: '{{input.a' })).toThrow('unclosed');
  });

  it('normalizes a missing prompt to the whole input, and a string to a user template', () => {
    expect(normalizePrompt(undefined)).toEqual({ user: '{{input}}' });
    expect(normalizePrompt('Summarise {{input.text}}')).toEqual({ user: 'Summarise {{input.text}}' });
    const both = { system: 'S', user: 'U' };
    expect(normalizePrompt(both)).toEqual(both);
  });
});

describe('parseManifest: runtime llm', () => {
  /** Line numbers below refer to this text (1-based). */
  const BASE = [
    'apiVersion: warden.dev/v1', // 1
    'kind: Agent', // 2
    'metadata:', // 3
    '  name: summarizer', // 4
    '  version: 1.0.0', // 5
    'spec:', // 6
    '  runtime: llm', // 7
    '  model:', // 8
    '    provider: openai', // 9
    '    model: gpt-4o-mini', // 10
    '    apiKeyEnv: OPENAI_API_KEY', // 11
    '    temperature: 0.2', // 12
    '  prompt:', // 13
    '    system: You summarise text.', // 14
    '    user: "Summarise: {{input.text}}"', // 15
  ].join('\n');

  const replace = (from: string, to: string): string => {
    if (!BASE.includes(from)) throw new Error(`test bug: ${from} not in BASE`);
    return BASE.replace(from, to);
  };

  interface Issue {
    path: string;
    message: string;
    line?: number;
    column?: number;
  }

  function issuesOf(text: string): Issue[] {
    const err = thrown(() => parseManifest(text, 'agent.yaml'));
    expect(err).toBeInstanceOf(WardenError);
    expect((err as WardenError).code).toBe('INVALID_MANIFEST');
    return (err as WardenError).details!['issues'] as Issue[];
  }

  it('parses a valid llm agent with its model and prompt', () => {
    const m = parseManifest(BASE);
    expect(m.name).toBe('summarizer');
    expect(m.version).toBe('1.0.0');
    expect(m.runtime).toBe('llm');
    expect(m.model).toEqual({
      provider: 'openai',
      model: 'gpt-4o-mini',
      apiKeyEnv: 'OPENAI_API_KEY',
      temperature: 0.2,
    });
    expect(m.prompt).toEqual({ system: 'You summarise text.', user: 'Summarise: {{input.text}}' });
    expect(m.outputSchema).toBeUndefined();
  });

  it('parses every model option, a string prompt and an outputSchema', () => {
    const m = parseManifest(
      [
        'apiVersion: warden.dev/v1',
        'kind: Agent',
        'metadata: { name: classifier, version: 0.3.1 }',
        'spec:',
        '  runtime: llm',
        '  model:',
        '    provider: anthropic',
        '    model: claude-3-5-haiku-latest',
        '    baseUrl: https://api.anthropic.com',
        '    apiKeyEnv: ANTHROPIC_API_KEY',
        '    temperature: 0',
        '    maxTokens: 256',
        '    topP: 0.9',
        '    seed: 7',
        '    stop: ["\\n\\n"]',
        '    stream: false',
        '    idleTimeoutMs: 5000',
        '  prompt: "Classify: {{input}}"',
        '  outputSchema:',
        '    type: object',
        '    required: [label]',
        '    properties: { label: { type: string } }',
      ].join('\n'),
    );
    expect(m.model).toEqual({
      provider: 'anthropic',
      model: 'claude-3-5-haiku-latest',
      baseUrl: 'https://api.anthropic.com',
      apiKeyEnv: 'ANTHROPIC_API_KEY',
      temperature: 0,
      maxTokens: 256,
      topP: 0.9,
      seed: 7,
      stop: ['\n\n'],
      stream: false,
      idleTimeoutMs: 5000,
    });
    expect(m.prompt).toBe('Classify: {{input}}');
    expect(m.outputSchema).toEqual({
      type: 'object',
      required: ['label'],
      properties: { label: { type: 'string' } },
    });
  });

  it('accepts a llama model without a prompt (the prompt defaults later)', () => {
    const m = parseManifest(
      replace(
        '    provider: openai\n    model: gpt-4o-mini\n    apiKeyEnv: OPENAI_API_KEY',
        '    provider: llama\n    model: ./models/tiny.gguf\n    contextSize: 2048',
      ).replace(/\n {2}prompt:[\s\S]*$/, ''),
    );
    expect(m.model).toEqual({
      provider: 'llama',
      model: './models/tiny.gguf',
      contextSize: 2048,
      temperature: 0.2,
    });
    expect(m.prompt).toBeUndefined();
  });

  interface Case {
    name: string;
    text: string;
    path: string;
    line: number;
    /** A fragment the issue message must contain. */
    says: string;
  }

  const cases: Case[] = [
    {
      name: 'an API key written in the manifest',
      text: replace('    apiKeyEnv: OPENAI_API_KEY', '    apiKey: sk-proj-abcdef123456'),
      path: 'spec.model.apiKey',
      line: 11,
      says: 'apiKeyEnv',
    },
    {
      name: 'an unknown provider',
      text: replace('provider: openai', 'provider: gemini'),
      path: 'spec.model.provider',
      line: 9,
      says: 'must be one of openai, anthropic, llama',
    },
    {
      name: 'temperature above 2',
      text: replace('temperature: 0.2', 'temperature: 3'),
      path: 'spec.model.temperature',
      line: 12,
      says: '<=2',
    },
    {
      name: 'a bad placeholder in prompt.user',
      text: replace('{{input.text}}', '{{ text }}'),
      path: 'spec.prompt.user',
      line: 15,
      says: 'placeholder {{ text }}',
    },
    {
      name: 'a bad placeholder in prompt.system',
      text: replace('You summarise text.', 'You are {{persona}}.'),
      path: 'spec.prompt.system',
      line: 14,
      says: 'placeholder {{persona}}',
    },
    {
      name: 'an unclosed placeholder in a string prompt',
      text: replace(
        '  prompt:\n    system: You summarise text.\n    user: "Summarise: {{input.text}}"',
        '  prompt: "Summarise: {{input.text"',
      ),
      path: 'spec.prompt',
      line: 13,
      says: 'unclosed',
    },
    {
      name: 'an outputSchema that is not a JSON Schema',
      text: `${BASE}\n  outputSchema: { type: 12 }`,
      path: 'spec.outputSchema',
      line: 16,
      says: 'is not a valid JSON Schema',
    },
    {
      // Flow mapping: a block mapping's position is its first key's line, not the `model:` line.
      name: 'model on a runtime wasm agent',
      text: [
        'apiVersion: warden.dev/v1', // 1
        'kind: Agent', // 2
        'metadata: { name: tool, version: 1.0.0 }', // 3
        'spec:', // 4
        '  runtime: wasm', // 5
        '  module: ./tool.wasm', // 6
        '  model: { provider: openai, model: gpt-4o-mini }', // 7
      ].join('\n'),
      path: 'spec.model',
      line: 7,
      says: 'is only for runtime llm',
    },
    {
      name: 'provider llama with a baseUrl',
      text: replace(
        '    provider: openai\n    model: gpt-4o-mini\n    apiKeyEnv: OPENAI_API_KEY',
        '    provider: llama\n    model: ./tiny.gguf\n    baseUrl: http://127.0.0.1:8080/v1',
      ),
      path: 'spec.model.baseUrl',
      line: 11,
      says: 'is not used by provider llama',
    },
    {
      name: 'provider llama with an apiKeyEnv',
      text: replace('provider: openai', 'provider: llama'),
      path: 'spec.model.apiKeyEnv',
      line: 11,
      says: 'is not used by provider llama',
    },
    {
      name: 'a baseUrl that is not an http(s) URL',
      text: replace('    apiKeyEnv: OPENAI_API_KEY', '    baseUrl: ftp://example.com'),
      path: 'spec.model.baseUrl',
      line: 11,
      says: 'http(s) URL',
    },
    {
      name: 'an unknown model field',
      text: replace('temperature: 0.2', 'temprature: 0.2'),
      path: 'spec.model.temprature',
      line: 12,
      says: 'temprature',
    },
    {
      // A missing field is reported at its parent mapping, which starts on the runtime line.
      name: 'runtime llm without model',
      text: replace(
        '  model:\n    provider: openai\n    model: gpt-4o-mini\n    apiKeyEnv: OPENAI_API_KEY\n    temperature: 0.2\n',
        '',
      ),
      path: 'spec.model',
      line: 7,
      says: 'is required for runtime llm',
    },
  ];

  it.each(cases)('rejects $name at $path (line $line)', ({ text, path, line, says }) => {
    const issues = issuesOf(text);
    const issue = issues.find((i) => i.path === path);
    expect(issue, `issues: ${JSON.stringify(issues)}`).toBeDefined();
    expect(issue!.line).toBe(line);
    expect(issue!.message).toContain(says);
  });

  it('names the file, field and line in the error message', () => {
    const err = thrown(() =>
      parseManifest(replace('    apiKeyEnv: OPENAI_API_KEY', '    apiKey: sk-live-1'), 'agents/sum.yaml'),
    );
    expect(err.message).toContain('agents/sum.yaml:11:');
    expect(err.message).toContain('spec.model.apiKey');
  });

  it('reports every llm-only field on a non-llm agent', () => {
    const issues = issuesOf(replace('runtime: llm', 'runtime: wasm\n  module: ./a.wasm'));
    expect(issues.map((i) => [i.path, i.message])).toEqual([
      ['spec.model', 'is only for runtime llm'],
      ['spec.prompt', 'is only for runtime llm'],
    ]);
  });
});
