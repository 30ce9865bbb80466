// sentiment 1.0.0, the baseline: counts words from a small list, knows nothing of negation, and works
// slowly (it loads its "model" for 150 ms). It crashes on a text without letters.
const POSITIVE = ['good', 'great', 'love'];
const NEGATIVE = ['bad', 'awful', 'hate'];
let raw = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => (raw += chunk));
process.stdin.on('end', () =>
  setTimeout(() => {
    const words = JSON.parse(raw)
      .text.toLowerCase()
      .match(/[a-z]+/g);
    const score =
      words.filter((w) => POSITIVE.includes(w)).length - words.filter((w) => NEGATIVE.includes(w)).length;
    process.stdout.write(
      JSON.stringify({ label: score > 0 ? 'positive' : score < 0 ? 'negative' : 'neutral' }),
    );
  }, 150),
);
