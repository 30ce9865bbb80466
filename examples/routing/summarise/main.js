// A Warden node agent for the routing example: JSON input on stdin, JSON output on stdout.
let raw = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => (raw += chunk));
process.stdin.on('end', () => {
  const input = JSON.parse(raw || 'null');
  const out = (value) => process.stdout.write(JSON.stringify(value));
  const text = typeof input?.text === 'string' ? input.text : '';
  out({
    summary: text
      .split(/(?<=[.!?])\s+/)
      .slice(0, 2)
      .join(' '),
  });
});
