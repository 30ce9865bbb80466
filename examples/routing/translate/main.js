// A Warden node agent for the routing example: JSON input on stdin, JSON output on stdout.
let raw = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => (raw += chunk));
process.stdin.on('end', () => {
  const input = JSON.parse(raw || 'null');
  const out = (value) => process.stdout.write(JSON.stringify(value));
  out({
    agent: 'translate',
    note: 'demo agent: routes, does not translate',
    to: input?.to ?? null,
    text: input?.text ?? null,
  });
});
