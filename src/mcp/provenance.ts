import { WardenError } from '../core/index.js';
import type { BundleSummary, ChainVerification } from '../provenance/index.js';
import type { Warden } from '../warden/index.js';

/**
 * The largest bundle an MCP answer carries (a tool result or a resource is one JSON-RPC message, held
 * whole in memory on both sides): a bigger session is exported with `warden export` or
 * POST /artifacts/export, which stream.
 */
export const MAX_BUNDLE_BYTES = 16 * 1024 * 1024;

/**
 * A session's bundle summary and, with `text`, its canonical text (serializeBundle's exact bytes, so
 * verifyBundleText accepts it). Read through the streaming export: verified on a snapshot first.
 */
export async function readBundle(
  warden: Warden,
  sessionId: string,
  options: { text: boolean },
): Promise<{ summary: BundleSummary; text?: string }> {
  const bundle = await warden.exportProvenanceStream(sessionId);
  try {
    if (!options.text) return { summary: bundle.summary };
    const chunks: string[] = [];
    let bytes = 0;
    for await (const chunk of bundle.chunks()) {
      bytes += Buffer.byteLength(chunk);
      if (bytes > MAX_BUNDLE_BYTES)
        throw new WardenError(
          'PAYLOAD_TOO_LARGE',
          `The provenance bundle of session ${bundle.summary.session} is larger than ${MAX_BUNDLE_BYTES} bytes: export it with \`warden export --session ${bundle.summary.session}\` or POST /artifacts/export, which stream it`,
          { details: { session: bundle.summary.session, maxBytes: MAX_BUNDLE_BYTES } },
        );
      chunks.push(chunk);
    }
    return { summary: bundle.summary, text: chunks.join('') };
  } finally {
    bundle.close();
  }
}

/** One line: ok, BROKEN (what and where) or UNSIGNED (how many records no signature covers yet). */
export function summarizeVerification(session: string, r: ChainVerification): string {
  if (r.broken) return `BROKEN ${session}: record ${r.broken.seq}: ${r.broken.reason}`;
  const tasks = r.tasks === undefined ? '' : `, ${r.tasks} task(s) checked`;
  if (r.ok) return `ok ${session}: ${r.length} records, all signed${tasks}, head ${r.headHash ?? '-'}`;
  return `UNSIGNED ${session}: ${r.unsigned ?? 0} of ${r.length} records after the last signed head (size ${r.signedSize ?? 0}): no signature vouches for them yet (a running Warden signs within a second: verify again)`;
}
