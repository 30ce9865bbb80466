import { LineCounter, isNode, isScalar, parseDocument, visit } from 'yaml';
import type { z } from 'zod';
import { WardenError, type ErrorCode } from './errors.js';
import { jsonValueProblem } from './json-value.js';

/**
 * Aliases a document may expand. YAML aliases can nest (the "billion laughs"): nine lines that expand to
 * 9^9 nodes. A configuration file has no need for more than a few.
 */
const MAX_ALIASES = 100;

/**
 * Keys and items a document may hold. A configuration file has a few hundred; a megabyte of `K: v` lines
 * would take the parser and the schema seconds of one event loop shared with every other request.
 */
const MAX_ENTRIES = 10_000;

/** One problem in a YAML document: the field path and, where the document has it, its line and column. */
export interface DocumentIssue {
  path: string;
  message: string;
  line?: number;
  column?: number;
}

/**
 * Parses YAML text and validates it with a zod schema. Every problem names the file, the field and its
 * line; a syntax error or any schema issue throws `code` with all of them in `details.issues`.
 */
export function parseYamlDocument<S extends z.ZodType>(
  text: string,
  file: string,
  schema: S,
  code: ErrorCode,
  what: string,
): z.output<S> {
  const lineCounter = new LineCounter();
  // yaml's own duplicate-key check compares every key with every earlier one of its map (seconds for tens
  // of thousands of keys): duplicateOrExcess does it with a set, and counts entries on the way.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  const fail = (issues: DocumentIssue[]) => {
    const lines = issues.map(
      (i) => `  ${file}${i.line ? `:${i.line}:${i.column}` : ''}: ${i.path}: ${i.message}`,
    );
    return new WardenError(code, `Invalid ${what} ${file}:\n${lines.join('\n')}`, {
      details: { file, issues },
    });
  };
  if (doc.errors.length > 0) {
    throw fail(
      doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return {
          path: '(yaml)',
          message: e.message.split('\n')[0] ?? e.message,
          line: pos.line,
          column: pos.col,
        };
      }),
    );
  }
  const excess = duplicateOrExcess(doc);
  if (excess) {
    const pos = excess.at === undefined ? undefined : lineCounter.linePos(excess.at);
    throw fail([
      { path: '(yaml)', message: excess.message, ...(pos ? { line: pos.line, column: pos.col } : {}) },
    ]);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (cause) {
    // yaml throws a ReferenceError for an alias bomb (and may hit the stack on pathological input).
    throw fail([{ path: '(yaml)', message: `cannot be read: ${(cause as Error).message}` }]);
  }
  const problem = jsonValueProblem(value);
  if (problem) throw fail([{ path: problem.path, message: problem.message }]);
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw fail(
    parsed.error.issues.flatMap((issue) => {
      // An unknown field is reported at the field itself, not at the object that holds it.
      const extra = issue.code === 'unrecognized_keys' ? issue.keys : [undefined];
      return extra.map((key) => {
        const path = [...issue.path, ...(key === undefined ? [] : [key])] as (string | number)[];
        const message =
          issue.code === 'invalid_key'
            ? (issue.issues[0]?.message ?? issue.message)
            : key
              ? `unknown field "${key}" (check its spelling)`
              : issue.message;
        return { path: path.map(String).join('.') || '(root)', message, ...locate(doc, lineCounter, path) };
      });
    }),
  );
}

function locate(doc: ReturnType<typeof parseDocument>, lc: LineCounter, path: (string | number)[]) {
  // Walk up until a node exists: a missing field is reported at its parent.
  for (let depth = path.length; depth >= 0; depth--) {
    const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
    if (isNode(node) && node.range) {
      const pos = lc.linePos(node.range[0]);
      return { line: pos.line, column: pos.col };
    }
  }
  return {};
}

/** The first key repeated in its map, or the entry past MAX_ENTRIES; in one pass over the document. */
function duplicateOrExcess(
  doc: ReturnType<typeof parseDocument>,
): { message: string; at: number | undefined } | undefined {
  let found: { message: string; at: number | undefined } | undefined;
  let entries = 0;
  visit(doc, {
    Map(_, map) {
      entries += map.items.length;
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        const key = isScalar(pair.key) ? pair.key.value : pair.key;
        if (seen.has(key)) {
          found = {
            message: `Map keys must be unique: ${String(key)} appears twice`,
            at: isNode(pair.key) ? pair.key.range?.[0] : undefined,
          };
          return visit.BREAK;
        }
        seen.add(key);
      }
      return entries > MAX_ENTRIES ? excess() : undefined;
    },
    Seq(_, seq) {
      entries += seq.items.length;
      return entries > MAX_ENTRIES ? excess() : undefined;
    },
  });
  return found;

  function excess() {
    found = { message: `has more than ${MAX_ENTRIES} keys and items`, at: undefined };
    return visit.BREAK;
  }
}
