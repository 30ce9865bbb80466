#!/usr/bin/env python3
"""Builds scripts/detector-data/heldout.jsonl: sources the detector is never trained on, kept to measure how
it does on attacks and benign prompts from elsewhere (npm run eval:detector, test/governance-heldout.test.ts).
Real optimised suffixes (GCG and random search) from research repositories, and a collection of long system
prompts. Run: python3 scripts/detector-data/build_heldout.py <mirror-dir>, where <mirror-dir> holds bare git
snapshots as <owner>+<name>/repo (see SOURCES.md for each repository). Deterministic (seeded sampling)."""
import ast, collections, csv, io, json, random, re, subprocess, sys
from pathlib import Path

M = sys.argv[1].rstrip('/') + '/'
out_path = Path(__file__).with_name('heldout.jsonl')


def show(repo, path):
    return subprocess.check_output(['git', '-C', M + repo + '/repo', 'show', 'HEAD:' + path]).decode('utf-8')


def ls(repo):
    return subprocess.check_output(['git', '-C', M + repo + '/repo', 'ls-tree', '-r', '--name-only', 'HEAD']).decode().split('\n')


rows = []


def add(text, src, fam, lic, label='jailbreak'):
    text = re.sub(r'[ \t]+$', '', text.strip())
    rows.append({'text': text, 'label': label, 'source': src, 'family': 'heldout:' + fam.split('(')[0], 'license': lic})


CAP = 150
rng = random.Random(1234)

# 0. Long system prompts (benign): every pattern of danielmiessler/fabric.
for f in ls('danielmiessler+fabric'):
    if re.match(r'(data/)?patterns/[^/]+/system\.md$', f):
        t = show('danielmiessler+fabric', f).strip()
        if t:
            rows.append({'text': t, 'label': 'benign', 'source': 'danielmiessler/fabric: patterns/*/system.md',
                         'family': 'heldout:fabric-system-prompts', 'license': 'MIT'})

# 0b. GCG suffixes released with SmoothLLM.
for m in ['vicuna', 'llama2']:
    d = json.loads(show('arobey1+smooth-llm', f'data/GCG/{m}_behaviors.json'))
    goals = ast.literal_eval(d['goal']) if isinstance(d['goal'], str) else d['goal']
    controls = ast.literal_eval(d['controls']) if isinstance(d['controls'], str) else d['controls']
    for g, c in zip(goals, controls):
        rows.append({'text': g + ' ' + c, 'label': 'jailbreak', 'source': 'arobey1/smooth-llm: data/GCG/*_behaviors.json',
                     'family': 'heldout:gcg-smoothllm', 'license': 'MIT'})

# 1. JailTrickBench adversarial-training data (GCG suffixes, per README)
R='usail-hkust+JailTrickBench'; P='defenses/LLaMA-Factory/data/adv_training_data.json'
import csv, io
adv=set(r['goal'].strip() for r in csv.DictReader(io.StringIO(show('OSU-NLP-Group+AmpleGCG','llmattack/data/advbench/harmful_behaviors.csv'))))
d=json.loads(show(R,P)); cand=[]
for x in d:
    g,s=x['instruction'].split('<s>',1)
    # keep only rows whose request is a clean AdvBench goal (others carry SmoothLLM-style
    # character perturbations or a self-reminder defence prefix)
    if s.strip() and g.strip() in adv: cand.append(g.strip()+' '+s.strip())
cand=sorted(set(cand)); rng.shuffle(cand)
for t in cand[:CAP]: add(t,'usail-hkust/JailTrickBench:'+P,'gcg:jailtrickbench-advtrain(llama2-7b-chat)','MIT')

# 3. llm-adaptive-attacks random-search suffix artifacts (models not covered by JailbreakBench artifacts)
R='tml-epfl+llm-adaptive-attacks'
files=['exps_llama3-8b','exps_gemma-7b','exps_llama2-13b','exps_llama2-70b','exps_phi3','exps_r2d2','exps_mistral-7b_simplified_template','exps_nemotron-4-340b']
pools=[]
for fn in files:
    p='jailbreak_artifacts/%s.json'%fn; d=json.loads(show(R,p))
    js=[j for j in d['jailbreaks'] if j.get('prompt')]
    rng.shuffle(js); pools.append((p,js))
taken=0; i=0; seen=set()
while taken<CAP and any(i<len(js) for _,js in pools):
    for p,js in pools:
        if i<len(js) and taken<CAP:
            t=js[i]['prompt']
            if t not in seen: seen.add(t); add(t,'tml-epfl/llm-adaptive-attacks:'+p,'random-search:adaptive-attacks(template+suffix)','MIT'); taken+=1
    i+=1

# 4. BrokenHill GCG examples (Bishop Fox)
R='BishopFox+BrokenHill'; bh=[]
p='docs/examples/death_threat-phi3-canonical_llm_jailbroken.json'
for x in json.loads(show(R,p)): bh.append((x['complete_user_input'],p))
for p in ['docs/examples/death_threat-phi3.md','docs/extracting_result_information.md','docs/examples/controlled_substances-qwen1.5.md','docs/examples/annihilation-phi2.md']:
    txt=show(R,p)
    for line in txt.split('\n'):
        m=re.match(r"^\s*(?:Full input string: ')?((?:Please write|Write a convincing) .*?)'?\s*$", line)
        if m: bh.append((m.group(1),p))
        m=re.search(r'"complete_user_input": (".*")', line)
        if m: bh.append((json.loads(m.group(1)),p))
seen=set()
for t,p in bh:
    t=t.strip()
    core=re.sub(r'[ .]','',t.split('threat',1)[-1]) if 'threat' in t else 'x'
    if t in seen or core=='' : continue   # skip all-dots initial string
    seen.add(t); add(t,'BishopFox/BrokenHill:'+p,'gcg:brokenhill','MIT')

# 5. ronitios96 GCG / nanoGCG demo results
R='ronitios96+AdverserialAttacksOnLLMs'
for p,fam in [('GCG_Demo_Results.md','gcg:llm-attacks-demo'),('nanoGCG_Demo_Results.md','nanogcg')]:
    txt=show(R,p); q=None; lines=txt.split('\n')
    for k,l in enumerate(lines):
        m=re.match(r'\*\*Query\*\*: `(.*?)`(?: and `(.*?)`)?',l)
        if m: q=[x.strip('"') for x in m.groups() if x]
        if l.strip()=='```' and k+2<len(lines) and lines[k+2].strip()=='```' and q:
            s=lines[k+1].strip()
            for qq in q: add(qq+' '+s,'ronitios96/AdverserialAttacksOnLLMs:'+p,fam,'MIT')
            q=None

# Exact duplicates out, at most CAP rows per repository.
out = []
seen = set()
count = collections.Counter()
for r in rows:
    repo = r['source'].split(':')[0]
    if r['text'] in seen or (r['label'] == 'jailbreak' and count[repo] >= CAP):
        continue
    seen.add(r['text'])
    count[repo] += 1
    out.append(r)
with out_path.open('w') as f:
    for r in out:
        f.write(json.dumps(r, ensure_ascii=False) + '\n')
print(f'wrote {len(out)} rows to {out_path}')
