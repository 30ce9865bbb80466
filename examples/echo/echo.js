// A Warden process agent: JSON input on stdin, JSON output on stdout, logs on stderr.
let raw = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => (raw += chunk));
process.stdin.on('end', () => {
  const input = JSON.parse(raw || 'null');
  const text = typeof input?.text === 'string' ? input.text : JSON.stringify(input);
  console.error(`echo: received ${text.length} characters`);
  process.stdout.write(JSON.stringify({ echo: text, words: text.split(/\s+/).filter(Boolean).length }));
});
