/**
 * The insights page in a real browser: Playwright (playwright-core, no browser download) driving
 * Debian's Chromium (/usr/bin/chromium, installed by .ci/run), headless, with a fresh profile.
 * Logs in through the one-time link, sees the tiles and charts, opens an incident, downloads its
 * Markdown, takes a screenshot, and checks the page at 400 px wide.
 *
 * Without Chromium the suite is skipped, loudly. UPDATE_SCREENSHOT=1 also writes the screenshot
 * into docs/insights.png (the one the README shows).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DateTime } from 'luxon';
import { chromium, type BrowserContext } from 'playwright-core';
import { insightsWebFor } from '../../src/web/registry';
import { demoIncidents, seed } from '../helpers/seedIncidents';
import { TEST_TEAM } from '../helpers/slackEmulator';
import { startTestBot, type TestBot } from '../helpers/testBot';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  process.stderr.write(
    `\n*** Browser suite SKIPPED: no Chromium at ${CHROMIUM} (apt-get install chromium, as .ci/run does).\n\n`,
  );
}
const suite = haveChromium ? describe : describe.skip;

jest.setTimeout(120_000);

const now = DateTime.fromISO('2025-06-30T12:00:00Z', { zone: 'utc' });
let bot: TestBot;
let base: string;
let profile: string;
let context: BrowserContext;

suite('insights in Chromium', () => {
  beforeAll(async () => {
    bot = await startTestBot({ clock: () => now });
    base = `http://127.0.0.1:${bot.port}`;
    const web = insightsWebFor(bot.service);
    if (!web) throw new Error('insights routes not registered');
    web.publicUrl = base;
    for (const b of demoIncidents()) await seed(bot.store, TEST_TEAM.id, b);
    profile = mkdtempSync(path.join(os.tmpdir(), 'incident-bot-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      acceptDownloads: true,
      viewport: { width: 1200, height: 900 },
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  });

  afterAll(async () => {
    await context?.close();
    await bot?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('says 401 before login', async () => {
    const page = await context.newPage();
    const r = await page.goto(`${base}/insights`);
    expect(r?.status()).toBe(401);
    await expect(page.textContent('body')).resolves.toContain('/incident insights');
    await page.close();
  });

  it('logs in through the one-time link, shows tiles and charts, opens an incident and downloads its Markdown', async () => {
    const reply = await bot.command('insights');
    const link = /(http:\/\/127\.0\.0\.1:\d+\/insights\/login\?token=[\w-]+)/.exec(
      reply.ephemeral.join('\n'),
    )?.[1];
    expect(link).toBeDefined();

    const page = await context.newPage();
    await page.goto(link ?? '');
    await page.click('button[type=submit]');
    await page.waitForURL(`${base}/insights`);
    const cookies = await context.cookies(base);
    expect(cookies.find((c) => c.name === 'ib_insights')).toMatchObject({ httpOnly: true });

    // Days 90 by default: the five April–June incidents (the drill was in March).
    await expect(page.locator('.tile').count()).resolves.toBe(9);
    await expect(page.locator('.tile[data-key="incidents"] .v').textContent()).resolves.toBe('5');
    await expect(page.locator('#trends svg').count()).resolves.toBe(5);
    await expect(page.locator('#diagnosis tbody tr').count()).resolves.toBe(5);
    await expect(page.locator('#follow-through').textContent()).resolves.toContain(
      'Canary config pushes',
    );

    // A screenshot of the whole page: a real PNG of the viewport's width.
    const png = await page.screenshot({ fullPage: true });
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(png.readUInt32BE(16)).toBe(1200);
    expect(png.length).toBeGreaterThan(50_000);
    if (process.env.UPDATE_SCREENSHOT === '1') {
      writeFileSync(path.join(__dirname, '../../docs/insights.png'), png);
    }

    // Open an incident from the table.
    await page.click('#incidents a:has-text("INC-9")');
    await page.waitForURL(`${base}/insights/incidents/9`);
    await expect(page.locator('#timeline tbody tr').count()).resolves.toBeGreaterThan(4);
    await expect(page.locator('#diagram svg').count()).resolves.toBe(1);
    await expect(page.locator('#draft h1, #draft h2').first().textContent()).resolves.toBeTruthy();

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.click('a:has-text("Download .md")'),
    ]);
    expect(download.suggestedFilename()).toBe('postmortem-INC-9.md');
    const file = await download.path();
    expect(readFileSync(file, 'utf8')).toContain('API error rate above 5%');
    await page.close();
  });

  it('works at 400 px wide: nothing wider than the screen, tiles and charts inside it', async () => {
    const page = await context.newPage();
    await page.setViewportSize({ width: 400, height: 800 });
    const r = await page.goto(`${base}/insights?days=365&kinds=all`);
    expect(r?.status()).toBe(200);
    // Evaluated in the page (a string, since this project's TypeScript has no DOM types).
    const scrollWidth = await page.evaluate<number>('document.documentElement.scrollWidth');
    expect(scrollWidth).toBeLessThanOrEqual(400);
    const box = await page.locator('#trends svg').first().boundingBox();
    expect(box?.width).toBeGreaterThan(300);
    expect((box?.x ?? 0) + (box?.width ?? 0)).toBeLessThanOrEqual(400);
    await expect(page.locator('.tile[data-key="incidents"] .v').textContent()).resolves.toBe('9');
    const png = await page.screenshot({ fullPage: true });
    expect(png.readUInt32BE(16)).toBe(400);
    await page.close();
  });
});
