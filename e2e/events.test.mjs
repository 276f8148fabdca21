// The events page as a viewer: the history of what happened before the page
// opened, new events arriving live over the WebSocket, the type and text
// filters (kept in the URL across a reload), and pause holding new events
// back with a count. Then axe, the phone-width check and screenshots in both
// themes at a desktop and a phone size.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { THEMES, VIEWPORTS, axeProblems, connectionOpen, overflowProblems, settled, themedContext, watchFrames } from './checks.mjs';
import { devLogin, newContext, screenshot, useBrowser, usePortal } from './portal.mjs';

const portal = usePortal();
const browser = useBrowser();

before(async () => {
  await portal.started;
  // Made before any page opens: the page must find them in the history.
  await portal.api('POST', '/api/v1/agents', { name: 'ev-history', kind: 'AGENT_KIND_DATA', labels: { customer: 'acme' } });
  await portal.api('POST', '/api/v1/agents', { name: 'ev-history-2', kind: 'AGENT_KIND_MEMORY' });
});
/** The events list and its rows. */
const eventList = (page) => page.getByRole('list', { name: /^events/i });
const eventRows = (page) => eventList(page).getByRole('listitem');
const row = (page, text) => eventRows(page).filter({ hasText: text });

async function openEvents(page, path = '/events') {
  await page.goto(path);
  await page.getByRole('heading', { name: /^events$/i }).waitFor();
  await connectionOpen(page).waitFor({ timeout: 15_000 });
  // The '*' subscription goes out once the stream is open: give it a moment.
  await page.waitForTimeout(300);
}

test('a viewer sees the events made before the page opened, and a new one live within 2 s', async () => {
  const ctx = await newContext(browser, portal);
  try {
    const page = await ctx.newPage();
    const frames = watchFrames(page);
    await devLogin(page, 'vera@example.com', 'viewer', 'Vera Viewer');
    await openEvents(page);

    // History, over REST.
    await row(page, 'created ev-history (by token:e2e)').first().waitFor({ timeout: 10_000 });
    await row(page, 'created ev-history-2').first().waitFor();
    await page.getByText(/^\d+ of \d+ events$/).waitFor();
    // The viewer gets no security events: the server filters them.
    assert.equal(await row(page, 'TokenUsed').count(), 0, 'no identity events for a viewer');
    await page.evaluate(() => {
      window.__e2eNoReload = true;
    });

    const t0 = Date.now();
    const { agent } = await portal.api('POST', '/api/v1/agents', { name: 'ev-live', kind: 'AGENT_KIND_DATA' });
    const live = row(page, 'created ev-live (by token:e2e)').first();
    await live.waitFor({ timeout: 2_000 });
    const ms = Date.now() - t0;
    console.log(`live: the AgentCreated event reached the events page ${ms} ms after the API call`);
    assert.ok(ms <= 2_000, `arrived within 2 s (${ms} ms)`);
    // On top, newest first, with the subject linking to the agent by name.
    assert.match(await eventRows(page).first().innerText(), /ev-live/);
    const link = live.getByRole('link', { name: 'ev-live' });
    assert.equal(await link.getAttribute('href'), `/agents/${agent.id}`);
    assert.equal(await page.evaluate(() => window.__e2eNoReload), true, 'the page was not reloaded');
    assert.ok(frames.some((f) => f.includes(`agents/${agent.id}`)), 'the event came over the WebSocket');

    // The payload, expanded.
    const toggle = live.getByRole('button', { name: /^Payload of event/ });
    assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
    await toggle.click();
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
    await live.locator('pre').getByText('"name": "ev-live"').waitFor();
    assert.deepEqual(ctx.problems, [], 'no page errors or console errors');
  } finally {
    await ctx.close();
  }
});

test('the type and text filters narrow the list, and a reload keeps them', async () => {
  const ctx = await newContext(browser, portal);
  try {
    const page = await ctx.newPage();
    await devLogin(page, 'vera@example.com', 'viewer', 'Vera Viewer');
    await openEvents(page);
    await row(page, 'created ev-history (by').first().waitFor({ timeout: 10_000 });
    const all = await eventRows(page).count();

    await page.getByLabel('Type').selectOption('AgentCreated');
    await page.waitForURL(/type=AgentCreated/);
    await page.waitForFunction(() =>
      [...document.querySelectorAll('ol[aria-label^="Events"] > li')].every((li) => li.textContent.includes('AgentCreated')),
    );
    const created = await eventRows(page).count();
    assert.ok(created >= 2 && created <= all, `${created} AgentCreated rows of ${all}`);
    for (const text of await eventRows(page).allInnerTexts()) {
      assert.match(text, /AgentCreated/);
    }

    await page.getByLabel('Search').fill('ev-history-2');
    await page.waitForURL(/q=ev-history-2/);
    await page.getByText(/^1 of \d+ events$/).waitFor();
    assert.equal(await eventRows(page).count(), 1);
    assert.match(await eventRows(page).first().innerText(), /created ev-history-2/);

    await page.reload();
    await page.getByRole('heading', { name: /^events$/i }).waitFor();
    await row(page, 'created ev-history-2').first().waitFor({ timeout: 10_000 });
    assert.equal(await page.getByLabel('Type').inputValue(), 'AgentCreated');
    assert.equal(await page.getByLabel('Search').inputValue(), 'ev-history-2');
    assert.equal(await eventRows(page).count(), 1);

    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.waitForURL((u) => !u.search.includes('type='));
    // Unfiltered: "N of N events".
    await page.getByText(/^(\d+) of \1 events$/).waitFor();
    assert.ok((await eventRows(page).count()) >= created);
    assert.deepEqual(ctx.problems, [], 'no page errors or console errors');
  } finally {
    await ctx.close();
  }
});

test('pause holds new events back and counts them; resume shows them', async () => {
  const ctx = await newContext(browser, portal);
  try {
    const page = await ctx.newPage();
    await devLogin(page, 'vera@example.com', 'viewer', 'Vera Viewer');
    await openEvents(page);
    await row(page, 'created ev-history (by').first().waitFor({ timeout: 10_000 });
    await page.getByRole('button', { name: 'Pause following' }).click();

    await portal.api('POST', '/api/v1/agents', { name: 'ev-paused', kind: 'AGENT_KIND_DATA' });
    await page.getByText(/1 new — resume to show/).waitFor({ timeout: 5_000 });
    assert.equal(await row(page, 'ev-paused').count(), 0, 'held back while paused');
    await screenshot(page, 'events-paused');

    await page.getByRole('button', { name: 'Resume following' }).click();
    await row(page, 'created ev-paused').first().waitFor({ timeout: 2_000 });
    assert.equal(await page.getByText(/new — resume to show/).count(), 0);
    assert.deepEqual(ctx.problems, [], 'no page errors or console errors');
  } finally {
    await ctx.close();
  }
});

for (const theme of THEMES) {
  for (const vpName of Object.keys(VIEWPORTS)) {
    test(`events page: axe, no sideways scroll, screenshot (${theme}, ${vpName})`, async () => {
      const ctx = await themedContext(browser, portal, theme, vpName);
      try {
        const page = await ctx.newPage();
        await devLogin(page, 'ada@example.com', 'admin', 'Ada Admin');
        await openEvents(page);
        await row(page, 'created ev-history (by').first().waitFor({ timeout: 10_000 });
        // One payload open, to see it too.
        await row(page, 'created ev-history (by').first().getByRole('button', { name: /^Payload of event/ }).click();
        await settled(page);
        assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), theme);

        const label = `events page (${theme}, ${vpName})`;
        assert.deepEqual(await axeProblems(page, label), [], 'no serious or critical axe violations');
        assert.deepEqual(await overflowProblems(page, label), [], 'the page fits the viewport');
        // From the top: a full-page shot of a scrolled page draws the sticky header mid-page.
        await page.evaluate(() => window.scrollTo(0, 0));
        await screenshot(page, `events-${theme}-${vpName}`);
        assert.deepEqual(ctx.problems, [], 'no page errors or console errors');
      } finally {
        await ctx.close();
      }
    });
  }
}
