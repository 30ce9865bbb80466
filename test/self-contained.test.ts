import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : sources(path);
    return /\.(ts|mts|js|mjs)$/.test(name) ? [path] : [];
  });
}

describe('a fresh clone', () => {
  // A user's clone has no ../shared beside it: what tests, benchmarks and scripts read lives in the
  // repository (test/fixtures, each copy with its source and licence notes).
  it('has no test, benchmark or script that reads a path outside the repository', () => {
    const offenders: string[] = [];
    for (const dir of ['src', 'test', 'bench', 'scripts']) {
      for (const file of sources(join(root, dir))) {
        readFileSync(file, 'utf8')
          .split('\n')
          .forEach((line, i) => {
            // A path literal that climbs out of the repository into a sibling folder such as ../shared.
            if (/['"`](?:\.\.\/)+shared\//.test(line)) offenders.push(`${relative(root, file)}:${i + 1}`);
          });
      }
    }
    expect(offenders).toEqual([]);
  });

  it('keeps every fixture copy with a README naming its source and licence', () => {
    for (const dir of ['governance', 'rfc6962', 'rd-reference']) {
      const readme = readFileSync(join(root, 'test/fixtures', dir, 'README.md'), 'utf8');
      expect(readme, dir).toMatch(/licen[cs]e/i);
      expect(readme, dir).toMatch(/source/i);
    }
  });
});
