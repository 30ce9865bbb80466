// sentiment 1.1.0: a larger word list, "not"/"never" flip the next sentiment word, no loading delay, and a
// text without letters is neutral.
const POSITIVE = ['good', 'great', 'love', 'excellent', 'happy', 'fast', 'recommend', 'works', 'perfect'];
const NEGATIVE = ['bad', 'awful', 'hate', 'broken', 'slow', 'poor', 'refund', 'terrible', 'crashes'];
const NEGATORS = ['not', 'never', 'no', 'isn', 'don', 'doesn'];
let raw = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => (raw += chunk));
process.stdin.on('end', () => {
  const words =
    JSON.parse(raw)
      .text.toLowerCase()
      .match(/[a-z]+/g) ?? [];
  let score = 0;
  let sign = 1;
  for (const w of words) {
    if (NEGATORS.includes(w)) sign = -1;
    else if (POSITIVE.includes(w)) ((score += sign), (sign = 1));
    else if (NEGATIVE.includes(w)) ((score -= sign), (sign = 1));
  }
  process.stdout.write(
    JSON.stringify({ label: score > 0 ? 'positive' : score < 0 ? 'negative' : 'neutral' }),
  );
});
