// warden/client runs in browsers as well as Node 20: its runtime imports stay inside src/client, the
// pure error registry and eventsource-parser (no node: modules, no server code, no core barrel).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const CLIENT = new URL('../../src/client/', import.meta.url).pathname;
const ALLOWED = /^(?:\.\/[a-z-]+\.js|\.\.\/core\/errors\.js|eventsource-parser)$/;

/** The specifiers a module imports at run time (`import type` and `export type` are erased). */
function runtimeImports(source: string): string[] {
  const found: string[] = [];
  for (const m of source.matchAll(/^(?:import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)';/gms))
    if (!m[1]) found.push(m[2]!);
  for (const m of source.matchAll(/import\(\s*'([^']+)'\s*\)/g)) found.push(m[1]!);
  return found;
}

describe('warden/client is portable', () => {
  it('imports at run time only its own modules, the error registry and eventsource-parser', () => {
    const files = readdirSync(CLIENT).filter((f) => f.endsWith('.ts'));
    expect(files).toContain('index.ts');
    for (const file of files) {
      const source = readFileSync(join(CLIENT, file), 'utf8');
      for (const spec of runtimeImports(source)) expect(spec, `${file} imports ${spec}`).toMatch(ALLOWED);
      expect(source, file).not.toMatch(/\bBuffer\.|\brequire\(|process\.env|from 'node:/);
    }
    // The registry it imports is itself free of imports.
    expect(
      runtimeImports(readFileSync(new URL('../../src/core/errors.ts', import.meta.url), 'utf8')),
    ).toEqual([]);
  });
});
