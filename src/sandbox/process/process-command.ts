import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { WardenError, type AgentManifest } from '../../core/index.js';

export interface ResolvedCommand {
  file: string;
  args: string[];
  cwd: string;
  /** The file whose content identifies this agent version (entry script or executable), if any. */
  codePath: string | null;
}

/** Turns a node/python/process manifest into the exact command to spawn, checking that its files exist. */
export function resolveCommand(manifest: AgentManifest): ResolvedCommand {
  const cwd = manifest.baseDir ?? process.cwd();
  const extra = manifest.args ?? [];
  const local = (p: string) => (isAbsolute(p) ? p : resolve(cwd, p));
  const mustExist = (path: string, field: string) => {
    if (!existsSync(path)) {
      throw new WardenError('FILE_NOT_FOUND', `spec.${field} of ${manifest.name}: ${path} does not exist`, {
        details: { field: `spec.${field}`, path },
      });
    }
    return path;
  };
  switch (manifest.runtime) {
    case 'node': {
      const entry = mustExist(local(requireField(manifest.entry, 'entry')), 'entry');
      return { file: process.execPath, args: [entry, ...extra], cwd, codePath: entry };
    }
    case 'python': {
      const entry = mustExist(local(requireField(manifest.entry, 'entry')), 'entry');
      return { file: 'python3', args: ['-u', entry, ...extra], cwd, codePath: entry };
    }
    case 'process': {
      const [head, ...rest] = requireField(manifest.command, 'command');
      const file = head!.startsWith('.') || head!.includes('/') ? mustExist(local(head!), 'command') : head!;
      return { file, args: [...rest, ...extra], cwd, codePath: file === head ? null : file };
    }
    default:
      throw new WardenError(
        'RUNTIME_UNAVAILABLE',
        `The process runtime cannot run runtime ${manifest.runtime}`,
      );
  }
}

function requireField<T>(value: T | undefined, field: string): T {
  if (value === undefined) throw new WardenError('INVALID_MANIFEST', `spec.${field} is required`);
  return value;
}
