import { existsSync, readFileSync, readdirSync, realpathSync } from 'node:fs';
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
        mountableInterpreter(dir, `spec.venv of ${manifest.name}`);
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
  let interpreter: string | undefined;
  try {
    interpreter = installPrefix(realpathSync(python));
  } catch {
    // A dangling link: the sandbox reports the interpreter missing.
  }
  if (interpreter) prefixes.add(mountableInterpreter(interpreter, `the interpreter ${python} links to`));
  let home: string | undefined;
  try {
    home = /^\s*home\s*=\s*(.+?)\s*$/m.exec(readFileSync(join(venv, 'pyvenv.cfg'), 'utf8'))?.[1];
    home = home && isAbsolute(home) ? dirname(realpathSync(home)) : undefined;
  } catch {
    // No pyvenv.cfg (not a venv module environment), or its home is gone.
  }
  if (home) prefixes.add(mountableInterpreter(home, `the home in ${join(venv, 'pyvenv.cfg')}`));
  return [...prefixes];
}

/**
 * Host directories a manifest can never have mounted into its sandbox, and the trees under the first
 * five: a venv's `home =` is the manifest author's to write, so it is taken only where it names a Python
 * installation, never one of these.
 */
const HOST_TREES = ['/etc', '/proc', '/sys', '/dev', '/run'];
const HOST_DIRS = new Set([
  '/',
  '/root',
  '/home',
  '/tmp',
  '/var',
  '/var/tmp',
  '/boot',
  '/srv',
  '/mnt',
  '/media',
  '/opt',
]);

/** `prefix`, if it is a Python installation (bin/python3 and lib/python3.N) outside the host's own directories. */
function mountableInterpreter(prefix: string, what: string): string {
  const hostOwned =
    HOST_DIRS.has(prefix) || HOST_TREES.some((t) => prefix === t || prefix.startsWith(`${t}/`));
  let python = false;
  if (!hostOwned) {
    try {
      python =
        readdirSync(join(prefix, 'bin')).some((n) => /^python3(\.\d+)?$/.test(n)) &&
        readdirSync(join(prefix, 'lib')).some((n) => /^python3\.\d+$/.test(n));
    } catch {
      // Not a directory with bin/ and lib/.
    }
  }
  if (!python)
    throw new WardenError(
      'INVALID_MANIFEST',
      `${what} is ${prefix}, which is not a Python installation (bin/python3 and lib/python3.N)` +
        `${hostOwned ? ' but a host directory' : ''}: Warden mounts only the virtualenv and its base interpreter into the sandbox. Rebuild the venv with \`python3 -m venv\` from a real interpreter.`,
      { details: { field: 'spec.venv', path: prefix } },
    );
  return prefix;
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
