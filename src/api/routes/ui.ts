import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { WardenError } from '../../core/index.js';

/**
 * Where the dashboard's built files are: WARDEN_UI_DIR, else dist/ui of the package this file belongs to
 * (found by walking up to its package.json, so it holds for src/ under tsx and dist/ alike).
 */
export function uiAssetsDir(): string | undefined {
  const fromEnv = process.env['WARDEN_UI_DIR'];
  if (fromEnv) return existsSync(join(fromEnv, 'index.html')) ? fromEnv : undefined;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) {
      const built = join(dir, 'dist', 'ui');
      return existsSync(join(built, 'index.html')) ? built : undefined;
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

// The bundle loads nothing from elsewhere and talks only to this origin; uPlot and Preact set styles from
// script, which style-src 'unsafe-inline' covers (no inline script is allowed).
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

/** The dashboard at /ui: static files of the Vite build, public (the page asks for a key; the API checks it). */
export async function uiRoutes(app: FastifyInstance, root = uiAssetsDir()): Promise<void> {
  app.get('/ui', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/ui/'));
  if (!root) {
    app.get('/ui/*', { schema: { hide: true } }, async () => {
      throw new WardenError(
        'UI_NOT_BUILT',
        'The dashboard is not built in this installation: run `npm run build:ui` (or set WARDEN_UI_DIR)',
      );
    });
    return;
  }
  await app.register(fastifyStatic, {
    root,
    prefix: '/ui/',
    index: ['index.html'],
    wildcard: true,
    // Hashed asset names never change content: cache them for good; index.html is always revalidated.
    setHeaders: (res, path) => {
      res.header('content-security-policy', CONTENT_SECURITY_POLICY);
      res.header('x-content-type-options', 'nosniff');
      res.header('referrer-policy', 'no-referrer');
      res.header(
        'cache-control',
        path.endsWith('index.html') ? 'no-cache' : 'public, max-age=31536000, immutable',
      );
    },
    cacheControl: false,
    preCompressed: false,
  });
}
