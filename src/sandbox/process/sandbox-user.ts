import { statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';

/** The host user a sandbox runs as: bubblewrap is started as it, so the agent's uid maps to it. */
export interface SandboxIdentity {
  uid: number;
  gid: number;
}

/** `nobody`/`nogroup` on every mainstream distribution. */
export const NOBODY = 65534;

/**
 * Who sandboxes run as. A user namespace maps the agent to whoever starts bubblewrap, so a Warden running
 * as root would hand its agents the host's root (owner of every root-only file they can see): as root,
 * sandboxes run as an unprivileged user instead. Otherwise they run as Warden's own user (null).
 */
export function sandboxIdentity(options: { uid?: number; gid?: number } = {}): SandboxIdentity | null {
  if (process.geteuid?.() !== 0) return null;
  return { uid: options.uid ?? NOBODY, gid: options.gid ?? NOBODY };
}

/** The permission bits that apply to `id` on a file (owner, group or other class; no ACLs). */
function bitsFor(stat: Stats, id: SandboxIdentity): number {
  if (stat.uid === id.uid) return (stat.mode >> 6) & 7;
  if (stat.gid === id.gid) return (stat.mode >> 3) & 7;
  return stat.mode & 7;
}

/** Whether `id` may look `path` up: search (x) permission on every directory above it. */
export function canReach(path: string, id: SandboxIdentity): boolean {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    if ((bitsFor(statSync(dir), id) & 1) === 0) return false;
    if (dir === '/') return true;
  }
}

/** Whether `id` may list and enter the directory `dir` (read and search permission). */
export function canOpenDir(dir: string, id: SandboxIdentity): boolean {
  return (bitsFor(statSync(dir), id) & 5) === 5;
}
