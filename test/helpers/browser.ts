// A real headless browser for page tests, from npm: puppeteer-core drives the Chromium build that
// the @sparticuz/chromium dev dependency carries (so `npm ci` is all a machine needs); $CHROMIUM
// names another browser instead. Use:
//   const browser = await launchBrowser();  …  await browser.close();   (or withBrowser(fn))
//   const p = await openPage(browser, urlOrHtml, { width: 390 });
//   p.consoleErrors, p.failedRequests, p.externalRequests  — all [] on a good page
//   await screenshot(p.page, 'name')                        — test-artifacts/name.png
//
// Why not the package's own executablePath(): it writes the binary straight to <tmp>/chromium
// and returns that path whenever it exists, whatever version wrote it, so a test file starting
// beside another one can launch a half-written binary. Here the binary is unpacked once per
// package version to <tmp>/heatdeath-chromium-<version>, written to a private temporary file
// and renamed into place (atomic): a caller sees no file or a whole one, and parallel callers
// that race both write the same bytes. Later calls reuse it.

import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createBrotliDecompress } from 'node:zlib';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

export type { Browser, Page };

export const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts', import.meta.url));

/**
 * Launch flags: no sandbox (containers, root), no GPU, the new headless mode, and nothing that
 * talks to the network on its own. The package's own defaults (serverless: --single-process,
 * SwiftShader GL) drop the DevTools connection on an ordinary machine.
 */
export const LAUNCH_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--headless=new',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-default-apps',
  '--disable-domain-reliability',
  '--disable-sync',
  '--disable-extensions',
  '--no-first-run',
  '--no-default-browser-check',
  '--no-pings',
  '--disable-dev-shm-usage',
  '--hide-scrollbars',
  '--mute-audio',
];

/** The packaged browser: its compressed binary and the package version. */
function packaged(): { br: string; version: string } {
  const main = createRequire(import.meta.url).resolve('@sparticuz/chromium');
  const root = join(dirname(main), '..', '..');
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  return { br: join(root, 'bin', 'chromium.br'), version };
}

/**
 * Unpacks the packaged Chromium into `dir` (once per version) and returns the binary's path.
 * Safe to call from several processes at once (see the header).
 */
export async function unpackChromium(dir = tmpdir()): Promise<string> {
  const { br, version } = packaged();
  const bin = join(dir, `heatdeath-chromium-${version}`, 'chromium');
  if (existsSync(bin)) return bin;
  mkdirSync(dirname(bin), { recursive: true });
  const part = `${bin}.${randomUUID()}.part`;
  try {
    await pipeline(createReadStream(br), createBrotliDecompress({ chunkSize: 2 ** 21 }), createWriteStream(part, { mode: 0o755 }));
    renameSync(part, bin);
  } finally {
    rmSync(part, { force: true });
  }
  return bin;
}

/** The browser to run: $CHROMIUM when set (it must exist), else the packaged one. */
export async function chromiumPath(): Promise<string> {
  const own = process.env.CHROMIUM;
  if (own) {
    if (!existsSync(own)) throw new Error(`$CHROMIUM is ${own}, which does not exist`);
    return own;
  }
  return unpackChromium();
}

export async function launchBrowser(): Promise<Browser> {
  return puppeteer.launch({ executablePath: await chromiumPath(), headless: true, args: [...LAUNCH_ARGS], timeout: 60_000 });
}

/** Runs `fn` with a fresh browser and closes it afterwards. */
export async function withBrowser<T>(fn: (browser: Browser) => Promise<T>): Promise<T> {
  const browser = await launchBrowser();
  try {
    return await fn(browser);
  } finally {
    await browser.close();
  }
}

export interface OpenedPage {
  page: Page;
  /** Every request the page made (URLs, in order), the page itself included. */
  requests: string[];
  /** Requests that failed (blocked, refused, 4xx/5xx), as `<url> <reason>`. */
  failedRequests: string[];
  /** Requests to another origin than the page's (for a file: page, anything not file:, data: or blob:). */
  externalRequests: string[];
  /** console.error/assert messages and uncaught exceptions. */
  consoleErrors: string[];
}

const isUrl = (s: string) => /^(https?|file|about|data):/.test(s);

/**
 * Opens `target` (a URL, or an HTML document as text) in a new page `width` px wide (1280 by
 * default) and waits for the load event. The page stays open (close it, or the browser).
 */
export async function openPage(browser: Browser, target: string, opts: { width?: number; height?: number } = {}): Promise<OpenedPage & { url: string }> {
  const page = await browser.newPage();
  await page.setViewport({ width: opts.width ?? 1280, height: opts.height ?? 900 });
  const out: OpenedPage = { page, requests: [], failedRequests: [], externalRequests: [], consoleErrors: [] };
  const url = isUrl(target) ? target : 'about:blank';
  const origin = url.startsWith('file:') || url === 'about:blank' ? null : new URL(url).origin;
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'assert') out.consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => out.consoleErrors.push(e instanceof Error ? e.message : String(e)));
  page.on('request', (r) => {
    const u = r.url();
    out.requests.push(u);
    const local = /^(data|blob|about):/.test(u) || (origin === null ? u.startsWith('file:') : new URL(u).origin === origin);
    if (!local) out.externalRequests.push(u);
  });
  page.on('requestfailed', (r) => out.failedRequests.push(`${r.url()} ${r.failure()?.errorText ?? 'failed'}`));
  page.on('response', (r) => {
    if (r.status() >= 400) out.failedRequests.push(`${r.url()} HTTP ${r.status()}`);
  });
  if (isUrl(target)) await page.goto(target, { waitUntil: 'load' });
  else await page.setContent(target, { waitUntil: 'load' });
  return { ...out, url };
}

/** Saves a full-page screenshot as test-artifacts/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: path as `${string}.png`, fullPage: true });
  return path;
}
