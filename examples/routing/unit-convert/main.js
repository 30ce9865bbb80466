// A Warden node agent for the routing example: JSON input on stdin, JSON output on stdout.
let raw = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => (raw += chunk));
process.stdin.on('end', () => {
  const input = JSON.parse(raw || 'null');
  const out = (value) => process.stdout.write(JSON.stringify(value));
  const v = Number(input?.value);
  const f = { 'km-mi': 0.621371, 'mi-km': 1.609344, 'kg-lb': 2.20462, 'lb-kg': 0.453592 }[
    `${input?.from}-${input?.to}`
  ];
  out(
    f
      ? { value: v * f, unit: input.to }
      : input?.from === 'c'
        ? { value: (v * 9) / 5 + 32, unit: 'f' }
        : { error: 'unknown units' },
  );
});
