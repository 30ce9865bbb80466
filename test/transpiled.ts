import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const ROOT = new URL('..', import.meta.url).pathname;
const RELATIVE_IMPORT = /(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)\.js'/g;

/**
 * A plain-JavaScript copy of a test fixture and of every repository module it imports, for tests that start
 * dozens of child processes at once: a child of the copy loads in a fraction of the CPU that tsx needs to
 * load the TypeScript, which matters on a small, busy machine. TypeScript's transpileModule only strips
 * types (the sources use `import type`, so nothing else changes). Packages resolve through a node_modules
 * link to the repository's. Writes into the directory `out`; returns the path of the fixture's copy.
 */
export function transpiledFixture(fixture: string, out: string): string {
  symlinkSync(join(ROOT, 'node_modules'), join(out, 'node_modules'));
  writeFileSync(join(out, 'package.json'), '{"type":"module"}\n');
  const pending = [join(ROOT, fixture)];
  const done = new Set<string>();
  for (let file = pending.pop(); file; file = pending.pop()) {
    if (done.has(file)) continue;
    done.add(file);
    const text = readFileSync(file, 'utf8');
    const { outputText } = ts.transpileModule(text, {
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
        verbatimModuleSyntax: true,
      },
      fileName: file,
    });
    // From the output: type-only imports are gone there, and the module graph they name is not loaded.
    for (const m of outputText.matchAll(RELATIVE_IMPORT)) pending.push(resolve(dirname(file), `${m[1]}.ts`));
    const target = join(out, relative(ROOT, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, outputText);
  }
  return join(out, fixture.replace(/\.ts$/, '.js'));
}
