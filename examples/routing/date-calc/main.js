// A Warden node agent for the routing example: JSON input on stdin, JSON output on stdout.
let raw = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => (raw += chunk));
process.stdin.on('end', () => {
  const input = JSON.parse(raw || 'null');
  const out = (value) => process.stdout.write(JSON.stringify(value));
  const a = Date.parse(input?.from),
    b = Date.parse(input?.to);
  out(
    Number.isNaN(a) || Number.isNaN(b)
      ? { error: 'from and to must be dates' }
      : { days: Math.round((b - a) / 86400000) },
  );
});
