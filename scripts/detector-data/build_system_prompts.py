#!/usr/bin/env python3
"""Builds scripts/detector-data/system-prompts.jsonl: benign system and role prompts of the kind agents
really receive (long, structured, imperative: "You are an expert ...", rules, steps, output formats), from
two public collections (see SOURCES.md). Run: python3 scripts/detector-data/build_system_prompts.py
<awesome-copilot checkout> <awesome-cursorrules checkout>. Output is deterministic (sorted, seeded sample)."""
import json, random, re, subprocess, sys
from pathlib import Path

out_path = Path(__file__).with_name('system-prompts.jsonl')
rng = random.Random(42)
MAX_PER_FAMILY = 300


def files(repo):
    """Paths and texts of a checkout, or of a bare mirror (git show HEAD:path)."""
    repo = Path(repo)
    if (repo / '.git').exists() or not (repo / 'HEAD').exists():
        for p in sorted(repo.rglob('*')):
            if p.is_file():
                yield str(p.relative_to(repo)), lambda p=p: p.read_text(errors='replace')
        return
    names = subprocess.run(['git', '-C', str(repo), 'ls-tree', '-r', '--name-only', 'HEAD'],
                           capture_output=True, text=True, check=True).stdout.split('\n')
    for n in sorted(n for n in names if n):
        yield n, lambda n=n: subprocess.run(['git', '-C', str(repo), 'show', f'HEAD:{n}'],
                                            capture_output=True, text=True, errors='replace').stdout


def strip_front_matter(text):
    return re.sub(r'\A---\n.*?\n---\n', '', text, flags=re.S).strip()


def collect(repo, pattern, family, source, license):
    picked = []
    for name, read in files(repo):
        if re.search(pattern, name):
            text = strip_front_matter(read())
            if len(text) >= 200:
                picked.append({'text': text[:12000], 'label': 'benign', 'source': source, 'path': name,
                               'family': family, 'license': license})
    rng.shuffle(picked)
    return picked[:MAX_PER_FAMILY]


rows = collect(sys.argv[1], r'^(agents/[^/]+\.agent\.md|instructions/[^/]+\.instructions\.md)$',
               'benign:system-copilot', 'github/awesome-copilot', 'MIT')
rows += collect(sys.argv[2], r'^rules/[^/]+/\.cursorrules$|^rules/[^/]+\.mdc$',
                'benign:system-cursorrules', 'PatrickJS/awesome-cursorrules', 'CC0-1.0')
with out_path.open('w') as out:
    for r in rows:
        out.write(json.dumps(r, ensure_ascii=False) + '\n')
print(f'wrote {len(rows)} rows to {out_path}')
