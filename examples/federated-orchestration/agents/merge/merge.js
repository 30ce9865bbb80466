// Fan-in step: {parts: [{title, words, top}]} → {documents, words, top: the five strongest words overall}.
let raw = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => (raw += chunk));
process.stdin.on('end', () => {
  const { parts } = JSON.parse(raw);
  const counts = new Map();
  for (const p of parts) for (const { word, n } of p.top) counts.set(word, (counts.get(word) ?? 0) + n);
  const top = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 5);
  console.error(`merge: ${parts.length} parts`);
  process.stdout.write(
    JSON.stringify({
      documents: parts.map((p) => p.title),
      words: parts.reduce((sum, p) => sum + p.words, 0),
      top: top.map(([word]) => word),
    }),
  );
});
