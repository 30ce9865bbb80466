import { lstat, readFile, readdir, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { Command } from 'commander';
import { encodeFiles, type WardenClient } from '../../client/index.js';
import { WardenError, parseManifest, type AgentManifest } from '../../core/index.js';
import { globals } from '../context.js';
import { parseIntOption, printJson } from '../io.js';
import { remoteClient } from '../remote.js';

/** POST /agents takes at most 64 files. */
const MAX_FILES = 64;
/** The server's default body limit is 2 MiB, and base64 adds a third. @default 1.5 MiB */
const DEFAULT_MAX_BYTES = 1536 * 1024;

/** What `warden deploy` uploads: the manifest's text and the files of its directory. */
export interface Deployment {
  manifest: AgentManifest;
  manifestText: string;
  files: Map<string, Uint8Array>;
  bytes: number;
}

/**
 * Reads agent.yaml and the files of its directory (as a path registration would hash them: every regular
 * file, `.git` left out), checking first that the module or entry it names is there and inside that
 * directory, and that the whole fits in one request.
 */
export async function collectDeployment(
  path: string,
  limits: { maxBytes?: number; maxFiles?: number } = {},
): Promise<Deployment> {
  const maxBytes = limits.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxFiles = limits.maxFiles ?? MAX_FILES;
  let manifestText: string;
  try {
    manifestText = await readFile(path, 'utf8');
  } catch (cause) {
    throw new WardenError(
      'FILE_NOT_FOUND',
      `Cannot read agent manifest ${path}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`,
      { cause, details: { path } },
    );
  }
  const manifest = parseManifest(manifestText, path);
  const dir = dirname(resolve(path));
  for (const field of ['module', 'entry'] as const) {
    const ref = manifest[field];
    if (ref === undefined) continue;
    const file = resolve(dir, ref);
    if (file !== dir && !file.startsWith(dir + sep))
      throw new WardenError(
        'INVALID_INPUT',
        `spec.${field} ${ref} lies outside the manifest's directory ${dir}: only that directory is uploaded; put agent.yaml beside its code`,
        { details: { field, path: ref } },
      );
    const info = await stat(file).catch(() => null);
    if (!info?.isFile())
      throw new WardenError(
        'FILE_NOT_FOUND',
        `spec.${field} ${ref} (${file}) does not exist${manifest.runtime === 'wasm' ? ': build the module first' : ''}`,
        { details: { field, path: file } },
      );
  }
  const files = new Map<string, Uint8Array>();
  let bytes = 0;
  const walk = async (at: string): Promise<void> => {
    const entries = await readdir(at, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const full = join(at, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== '.git') await walk(full);
        continue;
      }
      const info = entry.isSymbolicLink() ? await stat(full).catch(() => null) : await lstat(full);
      if (!info?.isFile()) continue;
      bytes += info.size;
      if (files.size + 1 > maxFiles || bytes > maxBytes)
        throw new WardenError(
          'INPUT_TOO_LARGE',
          `${dir} holds more than ${files.size + 1 > maxFiles ? `${maxFiles} files` : `${maxBytes} bytes`}, more than one deploy uploads: give the agent a directory of its own (agent.yaml and its code), or register it on the server's host with \`warden agents register\``,
          { details: { dir, maxFiles, maxBytes } },
        );
      files.set(relative(dir, full).split(sep).join('/'), await readFile(full));
    }
  };
  await walk(dir);
  return { manifest, manifestText, files, bytes };
}

/** Registers the deployment on the server; `existed` when that version was already there (identical). */
export async function deploy(
  client: WardenClient,
  d: Deployment,
): Promise<{ record: Awaited<ReturnType<WardenClient['registerAgent']>>; existed: boolean }> {
  const before = await client.listAgents();
  const record = await client.registerAgent({
    manifest: d.manifestText,
    files: encodeFiles(Object.fromEntries(d.files)),
  });
  // Listed before and accepted now: the server found the identical version and kept it as it was.
  const existed = before.some((a) => a.key === record.key && a.moduleDigest === record.moduleDigest);
  return { record, existed };
}

export function deployCommand(): Command {
  return new Command('deploy')
    .description(
      'register an agent on a remote Warden (--server, --key): its agent.yaml and the files beside it (the WASM module, the code of a node or python agent), uploaded; deploying the same version again is a no-op, changed code needs a new version',
    )
    .argument('<agent.yaml>')
    .option(
      '--max-bytes <n>',
      'refuse to upload more than this many bytes of files',
      parseIntOption('--max-bytes'),
      DEFAULT_MAX_BYTES,
    )
    .action(async (path: string, flags: { maxBytes: number }, cmd: Command) => {
      const client = remoteClient(cmd);
      if (!client)
        throw new WardenError(
          'INVALID_INPUT',
          'warden deploy registers an agent on a remote Warden: give --server URL and --key KEY (or WARDEN_SERVER and WARDEN_API_KEY); on this host use `warden agents register`',
        );
      const d = await collectDeployment(path, { maxBytes: flags.maxBytes });
      const { record, existed } = await deploy(client, d);
      if (globals(cmd).json)
        return printJson({ ...record, files: [...d.files.keys()], bytes: d.bytes, unchanged: existed });
      process.stdout.write(
        `${existed ? 'unchanged' : 'deployed'} ${record.key} (${record.runtime}, ${d.files.size} file${d.files.size === 1 ? '' : 's'}, ${d.bytes} B) on ${client.options.baseUrl}\n` +
          `  digest ${record.moduleDigest ?? '-'}\n`,
      );
    });
}
