// The theme toggle: remembered in localStorage ("waooaw-theme"), applied as
// data-theme on <html>, kept across a reload, and followed by the other tabs
// of the same browser profile.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { devLogin, newContext, useBrowser, usePortal } from './portal.mjs';

const portal = usePortal();
const browser = useBrowser();

const theme = (page) => page.evaluate(() => document.documentElement.dataset.theme);
const stored = (page) => page.evaluate(() => localStorage.getItem('waooaw-theme'));
const toggle = (page) => page.getByRole('button', { name: /^switch to (light|dark) theme$/i });

for (const system of ['dark', 'light']) {
  test(`with a ${system} system theme: the toggle persists across a reload and syncs to a second tab`, async () => {
    const ctx = await newContext(browser, portal, { colorScheme: system });
    try {
      const page = await ctx.newPage();
      await devLogin(page, 'tom@example.com', 'viewer', 'Tom Theme');
      await toggle(page).waitFor();
      // Nothing chosen yet: the system's theme.
      assert.equal(await stored(page), null);
      assert.equal(await theme(page), system);

      const other = await ctx.newPage();
      await other.goto('/');
      await toggle(other).waitFor();
      assert.equal(await theme(other), system);
      const label = await toggle(other).getAttribute('aria-label');

      const flipped = system === 'dark' ? 'light' : 'dark';
      await toggle(page).click();
      await page.waitForFunction((t) => document.documentElement.dataset.theme === t, flipped);
      assert.equal(await stored(page), flipped);

      // The second tab follows (the storage event), its button included.
      await other.waitForFunction((t) => document.documentElement.dataset.theme === t, flipped, { timeout: 5_000 });
      await other.waitForFunction(
        (old) => [...document.querySelectorAll('button')].some((b) => /theme/i.test(b.getAttribute('aria-label') ?? b.textContent) && (b.getAttribute('aria-label') ?? b.textContent) !== old),
        label,
        { timeout: 5_000 },
      );

      // A reload keeps the choice.
      await page.reload();
      await toggle(page).waitFor();
      assert.equal(await theme(page), flipped);
      assert.equal(await stored(page), flipped);

      // And back, from the other tab this time.
      await toggle(other).click();
      await page.waitForFunction((t) => document.documentElement.dataset.theme === t, system, { timeout: 5_000 });
      assert.equal(await stored(page), system);
      assert.deepEqual(ctx.problems, [], 'no page errors or console errors');
    } finally {
      await ctx.close();
    }
  });
}
