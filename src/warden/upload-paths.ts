import { isAbsolute, posix } from 'node:path';
import { WardenError, type AgentManifest } from '../core/index.js';

/** Where an uploaded process agent may name an absolute executable: the system's, mounted in every sandbox. */
const SYSTEM_BIN = ['/usr/', '/bin/'];

/**
 * Refuses an uploaded agent whose manifest names a file outside its uploaded directory. Its paths resolve
 * against that directory, and whatever they name is read on the host (the code digest) and mounted into
 * the sandbox: `entry: ../../../etc/passwd` would hand the host's file to the agent.
 */
export function assertUploadPaths(m: AgentManifest): void {
  const paths: [field: string, path: string | undefined][] = [
    ['spec.entry', m.entry],
    ['spec.module', m.module],
    ['spec.venv', m.venv],
    ['spec.model.model', m.model?.provider === 'llama' ? m.model.model : undefined],
  ];
  const head = m.command?.[0];
  if (head !== undefined && (head.startsWith('.') || head.includes('/'))) {
    if (!(isAbsolute(head) && SYSTEM_BIN.some((dir) => posix.normalize(head).startsWith(dir))))
      paths.push(['spec.command[0]', head]);
  }
  for (const [field, path] of paths) {
    if (path === undefined) continue;
    const inside = posix.resolve('/agent', path);
    if (isAbsolute(path) || !inside.startsWith('/agent/'))
      throw new WardenError(
        'INVALID_MANIFEST',
        `${field} of an uploaded agent must name a file among its uploaded files (a relative path inside ` +
          `its directory); ${JSON.stringify(path)} is not`,
        { details: { field, path } },
      );
  }
}
