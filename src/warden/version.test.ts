import { describe, expect, it } from 'vitest';
import { compareVersions } from './version.js';

describe('compareVersions (semantic versioning 2.0.0 precedence)', () => {
  it.each([
    ['1.0.0-rc.10', '1.0.0-rc.9', 1], // numeric identifiers compare as numbers, not text
    ['1.0.0-alpha', '1.0.0-alpha.1', -1],
    ['1.0.0-alpha.beta', '1.0.0-beta', -1],
    ['1.0.0-beta.11', '1.0.0-beta.2', 1],
    ['1.0.0-rc.1', '1.0.0', -1],
    ['1.0.0-alpha.1', '1.0.0-alpha.beta', -1], // numeric identifiers sort before alphanumeric ones
    ['1.10.0', '1.9.0', 1],
    ['1.0.0+build.2', '1.0.0+build.1', 0], // build metadata does not count
  ])('%s vs %s → %i', (a, b, sign) => {
    expect(Math.sign(compareVersions(a, b))).toBe(sign);
    expect(Math.sign(compareVersions(b, a))).toBe(-sign || 0);
  });
});
