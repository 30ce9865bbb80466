#!/usr/bin/env python3
"""Builds scripts/detector-data/sources.jsonl, the labelled corpus for leave-one-family-out evaluation
(npm run eval:detector) and training, from raw files of public datasets (see SOURCES.md for each one's
repository, file and licence). Run: python3 scripts/detector-data/build_sources.py <raw-dir>
The raw directory holds the files as named in SOURCES.md; the output is deterministic (seeded sampling)."""
import csv, json, random, re, sys
from pathlib import Path

raw = Path(sys.argv[1])
out_path = Path(__file__).with_name('sources.jsonl')
rng = random.Random(42)
csv.field_size_limit(10**8)
rows = []
seen = set()

def key(text):
    return re.sub(r'\W+', ' ', text.lower()).strip()

# Template texts (GPTFuzz, garak) also circulate in the wild collection: a wild row that opens like one is
# the same attack, and is left out so that holding out one family does not leave its twin in training.
template_prefixes = set()

def add(text, label, source, family, license):
    text = (text or '').strip()
    if len(text) < 8:
        return
    if len(text) > 12000:
        text = text[:12000]
    k = key(text)
    if k in seen:
        return
    if family.startswith('templates:'):
        template_prefixes.add(k[:150])
    elif family.startswith('wild:') and k[:150] in template_prefixes:
        return
    seen.add(k)
    rows.append({'text': text, 'label': label, 'source': source, 'family': family, 'license': license})

def sample(items, n):
    items = list(items)
    rng.shuffle(items)
    return items[:n]

def f(cat, name):
    return raw / cat / name

# ---- attacks --------------------------------------------------------------------------------------
advbench = [r['goal'] for r in csv.DictReader(open(f('3_harmful_behaviours_attacks', 'ab235__AttnGCG-attack__harmful_behaviors.csv')))]
rng.shuffle(advbench)
fill_goals, gen_goals, harm_goals = advbench[:120], advbench[120:320], advbench[320:]

# Templates first (dedup keeps the first copy): GPTFuzz and garak DAN, filled with AdvBench goals.
for i, r in enumerate(csv.DictReader(open(f('1_jailbreak_in_the_wild', 'sherdencooper__GPTFuzz__GPTFuzzer.csv')))):
    add(r['text'].replace('[INSERT PROMPT HERE]', fill_goals[i % len(fill_goals)]), 'jailbreak',
        'sherdencooper/GPTFuzz templates', 'templates:gptfuzz', 'MIT')
for i, line in enumerate(open(f('1_jailbreak_in_the_wild', 'NVIDIA__garak__dan_prompts.jsonl'))):
    r = json.loads(line)
    p = r['prompt']
    try:
        p = json.loads(p)[0]
    except Exception:
        pass
    add(p.replace('{generator.name}', 'ChatGPT'), 'jailbreak', 'NVIDIA/garak DAN prompts', 'templates:garak-dan', 'Apache-2.0')
# In the wild: split by platform, so that one community's styles can be held out.
wild = list(csv.DictReader(open(f('1_jailbreak_in_the_wild', 'verazuo__jailbreak_llms__jailbreak_prompts_2023_12_25.csv'))))
for platform in ['discord', 'reddit', 'website']:
    for r in sample([w for w in wild if w['platform'] == platform], 220):
        add(r['prompt'], 'jailbreak', f'verazuo/jailbreak_llms ({platform})', f'wild:{platform}', 'MIT')
# Automated attacks wrapped around AdvBench goals.
for name, fam in [('ab235__AttnGCG-attack__harmful_behaviors_autodan.csv', 'autodan'), ('ab235__AttnGCG-attack__harmful_behaviors_ica.csv', 'ica')]:
    for r in csv.DictReader(open(f('3_harmful_behaviours_attacks', name))):
        add(r['goal'], 'jailbreak', f'AttnGCG-attack {fam}-wrapped AdvBench', f'automated:{fam}', 'MIT')
# GCG suffixes (garak's copy) on HarmBench behaviours.
gcg = [l.strip() for l in open(f('3_harmful_behaviours_attacks', 'NVIDIA__garak__gcg_suffixes.txt')) if l.strip()]
harmbench = [l.strip() for l in open(f('3_harmful_behaviours_attacks', 'NVIDIA__garak__harmbench_prompts.txt')) if l.strip()]
for i, goal in enumerate(harmbench):
    add(f'{goal} {gcg[i % len(gcg)]}', 'jailbreak', 'HarmBench + garak GCG suffixes', 'suffix:gcg-garak', 'MIT / Apache-2.0')

# Generated adversarial suffixes in two styles the literature describes (our own generator).
words = re.findall(r'[A-Za-z]{3,}', ' '.join(advbench))
def subword():
    w = rng.choice(words)
    a = rng.randrange(0, max(1, len(w) - 2))
    return w[a:a + rng.randint(2, 6)]
def optimised_token():
    kind = rng.random()
    if kind < 0.25:
        return subword() + rng.choice(['(', '](', '.', '}', '\\', ']', '>', "',", '`'])
    if kind < 0.45:
        return subword().lower() + subword().capitalize()
    if kind < 0.6:
        return rng.choice(['[', '{', '(', '!', '--', '==', '**', '/', '|', '\\', '>>', '##', '@', ';)'])
    if kind < 0.75:
        return rng.choice(words).capitalize()
    if kind < 0.85:
        return rng.choice(['describing', 'similarly', 'Now', 'write', 'oppositeley', 'Sure', 'here', 'tutorial', 'Manuel', 'sentence', 'Please', 'revert', 'with', 'two'])
    return subword() + str(rng.randint(0, 99))
for goal in gen_goals[:100]:
    suffix = ' '.join(optimised_token() for _ in range(rng.randint(14, 24)))
    add(f'{goal} {suffix}', 'jailbreak', 'warden generated optimised-style suffixes', 'suffix:generated-optimised', 'Apache-2.0')
for goal in gen_goals[100:200]:
    # Random-search style: a run of one repeated or random character-level token.
    n = rng.randint(15, 30)
    if rng.random() < 0.5:
        suffix = ' '.join(rng.choice(['!', '?', '.', '*', 'x']) for _ in range(n))
    else:
        suffix = ''.join(rng.choice('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#$%^&*()[]{}<>') for _ in range(n * 3))
    add(f'{goal} {suffix}', 'jailbreak', 'warden generated random-search suffixes', 'suffix:generated-random', 'Apache-2.0')

# Prompt injection: spikee documents and full prompts, BIPIA payloads inserted into BIPIA contexts.
for line in sample(open(f('2_prompt_injection', 'WithSecureLabs__spikee__targeted-2024-12-document.jsonl')), 238):
    add(json.loads(line)['input'], 'jailbreak', 'WithSecureLabs/spikee injected documents', 'injection:spikee', 'Apache-2.0')
for line in sample(open(f('2_prompt_injection', 'WithSecureLabs__spikee__targeted-2024-12-full-prompt-sys.jsonl')), 200):
    add(json.loads(line)['input'], 'jailbreak', 'WithSecureLabs/spikee full prompts', 'injection:spikee', 'Apache-2.0')
def bipia(split):
    attacks = []
    for fname in [f'microsoft__BIPIA__text_attack_{split}.json', f'microsoft__BIPIA__code_attack_{split}.json']:
        for cat, items in json.load(open(f('2_prompt_injection', fname))).items():
            attacks += items
    contexts = [json.loads(l)['context'] for fn in [f'microsoft__BIPIA__email_{split}.jsonl', f'microsoft__BIPIA__code_{split}.jsonl'] for l in open(f('2_prompt_injection', fn))]
    for a in attacks:
        c = rng.choice(contexts)
        cut = rng.randrange(0, max(1, len(c)))
        where = rng.choice(['start', 'middle', 'end'])
        text = f'{a}\n{c}' if where == 'start' else f'{c}\n{a}' if where == 'end' else f'{c[:cut]}\n{a}\n{c[cut:]}'
        add(text, 'jailbreak', f'microsoft/BIPIA payloads in BIPIA {split} contexts', 'injection:bipia', 'MIT')
bipia('train')
bipia('test')

# ---- harmful requests without a technique ----------------------------------------------------------
for g in harm_goals:
    add(g, 'harmful_request', 'AdvBench harmful behaviours', 'harmful:advbench', 'MIT')
for r in csv.DictReader(open(f('3_harmful_behaviours_attacks', 'sherdencooper__GPTFuzz__question_list.csv'))):
    add(r['text'], 'harmful_request', 'GPTFuzz harmful questions', 'harmful:gptfuzz', 'MIT')

# ---- benign ----------------------------------------------------------------------------------------
for line in sample(open(f('4_benign_agent_inputs', 'ShishirPatil__gorilla__BFCL_v4_live_multiple.json')), 250):
    r = json.loads(line)
    q = ' '.join(m['content'] for turn in r['question'] for m in turn if m.get('role') == 'user')
    add(f"{q}\n\nAvailable tools (JSON):\n{json.dumps(r['function'], indent=2)}", 'benign', 'gorilla BFCL tool calls with JSON specs', 'benign:tool-json', 'Apache-2.0')
for line in sample(open(f('4_benign_agent_inputs', 'ShishirPatil__gorilla__BFCL_v4_simple_python.json')), 150):
    r = json.loads(line)
    q = ' '.join(m['content'] for turn in r['question'] for m in turn if m.get('role') == 'user')
    add(f"{q}\n\nFunctions:\n{json.dumps(r['function'])}", 'benign', 'gorilla BFCL simple python', 'benign:tool-json-simple', 'Apache-2.0')
for fn in ['microsoft__BIPIA__table_train.jsonl', 'microsoft__BIPIA__table_test.jsonl']:
    for line in sample(open(f('4_benign_agent_inputs', fn)), 120):
        r = json.loads(line)
        add(f"{r.get('question', 'Answer from the table below.')}\n\n{r['context']}", 'benign', 'BIPIA markdown tables (WikiTableQuestions)', 'benign:tables', 'CC-BY-SA-4.0')
for line in open(f('4_benign_agent_inputs', 'openai__human-eval__HumanEval.jsonl')):
    r = json.loads(line)
    add(f"Complete this function:\n\n{r['prompt']}", 'benign', 'openai/human-eval', 'benign:code', 'MIT')
for fn in ['lm-sys__FastChat__mt_bench_question.jsonl', 'lm-sys__FastChat__vicuna_bench_question.jsonl']:
    for line in open(f('4_benign_agent_inputs', fn)):
        add('\n\n'.join(json.loads(line)['turns']), 'benign', 'FastChat MT-bench and Vicuna questions', 'benign:chat', 'Apache-2.0')
for line in open(f('4_benign_agent_inputs', 'yizhongw__self-instruct__user_oriented_instructions.jsonl')):
    r = json.loads(line)
    inst = r['instances'][0] if r.get('instances') else {}
    add(f"{r['instruction']}\n\n{inst.get('input', '')}", 'benign', 'self-instruct user-oriented', 'benign:instructions', 'Apache-2.0')
for lang in ['bn', 'de', 'en', 'es', 'fr', 'ja', 'ru', 'sw', 'te', 'th', 'zh']:
    lines = [l.split('\t')[0] for l in open(f('4_benign_agent_inputs', f'google-research__url-nlp__mgsm_{lang}.tsv'), encoding='utf8')]
    for t in sample(lines, 30):
        add(t, 'benign', 'MGSM multilingual word problems', 'benign:multilingual', 'CC-BY-4.0')
for fn in ['microsoft__BIPIA__email_test.jsonl', 'microsoft__BIPIA__code_test.jsonl']:
    for line in open(f('2_prompt_injection', fn)):
        r = json.loads(line)
        add(f"{r.get('question', 'Summarise this.')}\n\n{r['context']}", 'benign', 'BIPIA clean emails and code', 'benign:documents', 'MIT')
# Borderline: trigger words in harmless requests.
for fn in ['SaFoLab-WISC__InjecGuard__NotInject_one.json', 'SaFoLab-WISC__InjecGuard__NotInject_two.json', 'SaFoLab-WISC__InjecGuard__NotInject_three.json']:
    for r in json.load(open(f('5_borderline_safe', fn))):
        add(r['prompt'], 'benign_borderline', 'InjecGuard NotInject', 'borderline:notinject', 'MIT')
for line in open(f('5_borderline_safe', 'allenai__noncompliance__coconot_contrast_eval.jsonl')):
    add(json.loads(line)['prompt'], 'benign_borderline', 'CoCoNot contrast set', 'borderline:coconot', 'MIT')
for line in open(f('5_borderline_safe', 'WithSecureLabs__spikee__guardrail-false-positive-check.jsonl')):
    add(json.loads(line)['input'], 'benign_borderline', 'spikee false-positive emails', 'borderline:spikee-fp', 'Apache-2.0')
for line in open(f('5_borderline_safe', 'WithSecureLabs__spikee__seeds-investment-advice-fp_standalone.jsonl')):
    add(json.loads(line)['text'], 'benign_borderline', 'spikee investment questions', 'borderline:spikee-fp', 'Apache-2.0')

with open(out_path, 'w') as out:
    for r in rows:
        out.write(json.dumps(r, ensure_ascii=False) + '\n')
from collections import Counter
c = Counter((r['family'], r['label']) for r in rows)
for (fam, label), n in sorted(c.items()):
    print(f'{n:5d} {label:18s} {fam}')
print(len(rows), 'rows ->', out_path)
