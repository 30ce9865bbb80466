// Fan-out step: {title, text} → {title, words, top: the three most frequent words that are not stop words}.
const STOP = new Set(
  'a an and are as at be by for from has in is it its of on or that the to was were with'.split(' '),
);
let raw = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => (raw += chunk));
process.stdin.on('end', () => {
  const { title, text } = JSON.parse(raw);
  const words = text.toLowerCase().match(/[a-z]+/g) ?? [];
  const counts = new Map();
  for (const w of words) if (!STOP.has(w) && w.length > 2) counts.set(w, (counts.get(w) ?? 0) + 1);
  const top = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 3);
  console.error(`keywords: ${title}: ${words.length} words`);
  process.stdout.write(
    JSON.stringify({ title, words: words.length, top: top.map(([word, n]) => ({ word, n })) }),
  );
});
