// A Warden node agent for the routing example: JSON input on stdin, JSON output on stdout.
let raw = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => (raw += chunk));
process.stdin.on('end', () => {
  const input = JSON.parse(raw || 'null');
  const out = (value) => process.stdout.write(JSON.stringify(value));
  const text = String(input?.text ?? '').toLowerCase();
  const score =
    (text.match(/good|great|love|excellent|happy/g) ?? []).length -
    (text.match(/bad|awful|hate|poor|angry/g) ?? []).length;
  out({ sentiment: score > 0 ? 'positive' : score < 0 ? 'negative' : 'neutral' });
});
