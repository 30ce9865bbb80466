// A WASI command agent in AssemblyScript: reads the task input (JSON) from stdin and answers with its
// size and a word count of every string in it. Built by scripts/build-wasm-examples.ts.

function readStdin(): string {
  const chunks: ArrayBuffer[] = [];
  let total = 0;
  for (;;) {
    const buf = new ArrayBuffer(4096);
    const n = process.stdin.read(buf);
    if (n <= 0) break;
    chunks.push(buf.slice(0, n));
    total += n;
  }
  const all = new Uint8Array(total);
  let at = 0;
  for (let i = 0; i < chunks.length; i++) {
    all.set(Uint8Array.wrap(chunks[i]), at);
    at += chunks[i].byteLength;
  }
  return String.UTF8.decode(all.buffer);
}

/** Counts words inside JSON string literals (a tiny scanner, enough for this example). */
function countWords(json: string): i32 {
  let words = 0;
  let inString = false;
  let inWord = false;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (inString && c == 92 /* \ */) {
      i++;
      continue;
    }
    if (c == 34 /* " */) {
      inString = !inString;
      inWord = false;
      continue;
    }
    const letter = c != 32 && c != 9 && c != 10;
    if (inString && letter && !inWord) words++;
    inWord = inString && letter;
  }
  return words;
}

const input = readStdin();
const body = input.trim().length == 0 ? 'null' : input.trim();
process.stderr.write('wasm-as got ' + input.length.toString() + ' chars\n');
process.stdout.write(
  '{"agent":"wasm-as","bytes":' +
    String.UTF8.byteLength(input).toString() +
    ',"words":' +
    countWords(input).toString() +
    ',"input":' +
    body +
    '}',
);
