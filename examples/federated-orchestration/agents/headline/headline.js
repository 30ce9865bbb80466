// Publishing step: {top, documents} → {headline}.
let raw = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => (raw += chunk));
process.stdin.on('end', () => {
  const { top, documents } = JSON.parse(raw);
  const [first, second, third] = top.map((w) => w[0].toUpperCase() + w.slice(1));
  process.stdout.write(
    JSON.stringify({
      headline: `${first}, ${second} and ${third}: what ${documents.length} reports agree on`,
    }),
  );
});
