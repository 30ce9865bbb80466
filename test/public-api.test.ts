import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, string | { default: string }>;
  dependencies: Record<string, string>;
};

/** The package's entries ('warden', 'warden/client', ...) and the source file each is built from. */
const ENTRIES = new Map(
  Object.entries(pkg.exports)
    .filter(([, target]) => typeof target === 'object')
    .map(([subpath, target]) => [
      subpath === '.' ? 'warden' : `warden/${subpath.slice(2)}`,
      join(
        root,
        (target as { default: string }).default.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts'),
      ),
    ]),
);

interface Imported {
  doc: string;
  name: string;
  typeOnly: boolean;
  from: string;
}

/** Every name a TypeScript example in README.md or docs/*.md imports, and where it imports it from. */
function documentedImports(): Imported[] {
  const docs = ['README.md', ...readdirSync(join(root, 'docs')).map((f) => `docs/${f}`)];
  const found: Imported[] = [];
  for (const doc of docs.filter((d) => d.endsWith('.md'))) {
    const text = readFileSync(join(root, doc), 'utf8');
    for (const block of text.matchAll(/```(?:ts|typescript|js|javascript)\n([\s\S]*?)```/g)) {
      const source = ts.createSourceFile('block.ts', block[1]!, ts.ScriptTarget.Latest);
      for (const statement of source.statements) {
        if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier)) continue;
        const from = statement.moduleSpecifier.text;
        if (from.startsWith('node:')) continue;
        const clause = statement.importClause;
        const named = clause?.namedBindings;
        if (!named || !ts.isNamedImports(named)) continue;
        for (const el of named.elements) {
          found.push({
            doc,
            name: (el.propertyName ?? el.name).text,
            typeOnly: Boolean(clause.isTypeOnly || el.isTypeOnly),
            from,
          });
        }
      }
    }
  }
  return found;
}

describe('the package entry', () => {
  const imports = documentedImports();

  // Examples import from the package's entries, or from a runtime dependency it names (an OTel SDK).
  const ours = imports.filter((i) => ENTRIES.has(i.from));

  it('is what the docs import from (never a path into the source tree)', () => {
    expect(ours.length).toBeGreaterThan(10);
    expect(
      imports
        .filter((i) => !ENTRIES.has(i.from) && !(i.from in pkg.dependencies))
        .map((i) => `${i.doc}: ${i.name} from ${i.from}`),
    ).toEqual([]);
  });

  it('exports every value the docs import, at run time', async () => {
    const missing: string[] = [];
    for (const i of ours.filter((x) => !x.typeOnly)) {
      const mod = (await import(ENTRIES.get(i.from)!)) as Record<string, unknown>;
      if (mod[i.name] === undefined) missing.push(`${i.doc}: ${i.name} from ${i.from}`);
    }
    expect(missing).toEqual([]);
  });

  it('compiles an import of every documented name, values and types', () => {
    // One file that imports each name from the entry, type-checked as a user's code would be.
    const lines = ours.map(
      (i, n) =>
        `import ${i.typeOnly ? 'type ' : ''}{ ${i.name} as _${n} } from ${JSON.stringify(ENTRIES.get(i.from)!.replace(/\.ts$/, '.js'))};`,
    );
    const file = join(root, 'test', '__documented-imports.ts');
    const options: ts.CompilerOptions = {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: ['node'],
      noUnusedLocals: false,
    };
    const host = ts.createCompilerHost(options);
    const readFile = host.readFile.bind(host);
    host.readFile = (f) => (f === file ? `${lines.join('\n')}\nexport {};\n` : readFile(f));
    const fileExists = host.fileExists.bind(host);
    host.fileExists = (f) => f === file || fileExists(f);
    const program = ts.createProgram([file], options, host);
    const problems = ts
      .getPreEmitDiagnostics(program, program.getSourceFile(file))
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(problems).toEqual([]);
  }, 60_000);
});
