import semver from 'semver';

/**
 * Orders versions by semantic-versioning precedence (`1.0.0-rc.10` > `1.0.0-rc.9`; build metadata is
 * ignored). Manifests accept only valid versions; a string that is not one (a row written by an older
 * release) sorts below every valid version rather than throwing.
 */
export function compareVersions(a: string, b: string): number {
  const va = semver.valid(a);
  const vb = semver.valid(b);
  if (va && vb) return semver.compare(va, vb);
  if (va || vb) return va ? 1 : -1;
  return a < b ? -1 : a > b ? 1 : 0;
}
