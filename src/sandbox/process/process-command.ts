import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { WardenError, type AgentManifest } from '../../core/index.js';
import { installPrefix } from './bwrap.js';

export interface ResolvedCommand {
  file: string;
  args: string[];
  cwd: string;
  /** The file whose content identifies this agent version (entry script or executable), if any. */
  codePath: string | null;
  /** Paths outside cwd and the system directories the command needs, mounted read-only in the sandbox. */
  readOnly: string[];
}

/** The PATH agents get; also where `python3` and bare command names are looked up. */
export const AGENT_PATH = '/usr/local/bin:/usr/bin:/bin';

/** A manifest that may name a Python virtualenv (`spec.venv`, mounted read-only). */
type WithVenv = AgentManifest & { venv?: string };

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
  const outside = (path: string) => (path.startsWith(`${cwd}/`) ? [] : [path]);
  switch (manifest.runtime) {
    case 'node': {
      const entry = mustExist(local(requireField(manifest.entry, 'entry')), 'entry');
      const node = process.execPath;
      return {
        file: node,
        args: [entry, ...extra],
        cwd,
        codePath: entry,
        readOnly: [...outside(entry), ...(node.startsWith('/usr/') ? [] : [installPrefix(node)])],
      };
    }
    case 'python': {
      const entry = mustExist(local(requireField(manifest.entry, 'entry')), 'entry');
      const venv = (manifest as WithVenv).venv;
      if (venv !== undefined) {
        const dir = mustExist(local(venv), 'venv');
        const python = mustExist(join(dir, 'bin/python3'), 'venv');
        return {
          file: python,
          args: ['-u', entry, ...extra],
          cwd,
          codePath: entry,
          readOnly: [...outside(entry), dir, ...venvBase(dir, python)],
        };
      }
      return {
        file: which('python3') ?? 'python3',
        args: ['-u', entry, ...extra],
        cwd,
        codePath: entry,
        readOnly: outside(entry),
      };
    }
    case 'process': {
      const [head, ...rest] = requireField(manifest.command, 'command');
      const file = head!.startsWith('.') || head!.includes('/') ? mustExist(local(head!), 'command') : head!;
      return {
        file,
        args: [...rest, ...extra],
        cwd,
        codePath: file === head ? null : file,
        readOnly: isAbsolute(file) ? outside(dirname(file)) : [],
      };
    }
    default:
      throw new WardenError(
        'RUNTIME_UNAVAILABLE',
        `The process runtime cannot run runtime ${manifest.runtime}`,
      );
  }
}

/**
 * The installation a virtualenv's interpreter belongs to (a pyenv, conda or /opt build), to mount with the
 * venv: its bin/python3 is a link to that interpreter, which needs its own prefix (stdlib, libpython).
 * Read from the link itself and from pyvenv.cfg `home =` (the interpreter's directory).
 */
function venvBase(venv: string, python: string): string[] {
  const prefixes = new Set<string>();
  try {
    prefixes.add(installPrefix(realpathSync(python)));
  } catch {
    // A dangling link: the sandbox reports the interpreter missing.
  }
  try {
    const home = /^\s*home\s*=\s*(.+?)\s*$/m.exec(readFileSync(join(venv, 'pyvenv.cfg'), 'utf8'))?.[1];
    if (home && isAbsolute(home)) prefixes.add(dirname(realpathSync(home)));
  } catch {
    // No pyvenv.cfg (not a venv module environment), or its home is gone.
  }
  return [...prefixes];
}

/** Looks a command up in the agents' PATH, so the sandbox runs the same binary the host would. */
function which(name: string): string | null {
  for (const dir of AGENT_PATH.split(delimiter)) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  return null;
}

function requireField<T>(value: T | undefined, field: string): T {
  if (value === undefined) throw new WardenError('INVALID_MANIFEST', `spec.${field} is required`);
  return value;
}
