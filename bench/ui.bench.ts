// Dashboard figures (issue 17): the gzipped size of the bundle's JavaScript and CSS in dist/ui, and the first
// load of /ui on loopback in Debian's chromium (headless, fresh profile each time, so nothing is cached):
// first contentful paint, and the time until the Overview page shows its figures (first meaningful paint).
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { buildServer, createApiKey } from '../src/api/index.js';
import { Warden } from '../src/index.js';

const emit = (name: string, value: number, unit: string) =>
  process.stdout.write(`${JSON.stringify({ name, value: Number(value.toFixed(2)), unit })}\n`);

const assets = new URL('../dist/ui/assets/', import.meta.url).pathname;
if (!existsSync(assets)) {
  console.error('ui bench: dist/ui is missing; run `npm run build:ui` first');
  process.exit(1);
}
const gz = (ext: string) =>
  readdirSync(assets)
    .filter((f) => f.endsWith(ext))
    .reduce((sum, f) => sum + gzipSync(readFileSync(join(assets, f)), { level: 9 }).length, 0);
emit('ui bundle javascript gzipped', gz('.js') / 1024, 'KB');
emit('ui bundle css gzipped', gz('.css') / 1024, 'KB');

const executablePath = ['/usr/bin/chromium', process.env['CHROMIUM_PATH']].find((p) => p && existsSync(p));
if (!executablePath) {
  console.error('*** ui bench: no chromium (apt-get install -y chromium): first-paint figures SKIPPED ***');
  process.exit(0);
}

const root = mkdtempSync(join(tmpdir(), 'warden-ui-bench-'));
const warden = await Warden.open({ storage: { root } });
const app = await buildServer(warden, { logger: false, rateLimit: false });
const url = await app.listen({ host: '127.0.0.1', port: 0 });
const { key } = await createApiKey(warden.apiKeys, { tenant: 'default', role: 'admin', name: 'bench' });
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
});

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fcp: number[] = [];
const meaningful: number[] = [];
try {
  for (let i = 0; i < 7; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    // Signed in already (the key in the tab's session storage), as a user coming back to the tab is.
    await context.addInitScript((k) => sessionStorage.setItem('warden.apiKey', k), key);
    const page = await context.newPage();
    await page.goto(`${url}/ui/#/overview`);
    // The Overview's figures are on screen: the page is there and nothing in it is still loading.
    await page.waitForFunction(
      () => {
        const el = document.querySelector('[data-testid=page-overview]');
        return !!el && !el.querySelector('.loading') && (el.textContent ?? '').length > 40;
      },
      undefined,
      { polling: 'raf', timeout: 10_000 },
    );
    const at = await page.evaluate(() => performance.now());
    const paint = await page.evaluate(
      () => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? Number.NaN,
    );
    if (i > 0) {
      // The first load warms the server's file cache and the browser binary; it is not counted.
      meaningful.push(at);
      fcp.push(paint);
    }
    await context.close();
  }
  emit('ui first contentful paint', median(fcp), 'ms');
  emit('ui first meaningful paint (overview with data)', median(meaningful), 'ms');
} finally {
  await browser.close();
  await app.close();
  await warden.close();
  rmSync(root, { recursive: true, force: true });
}
