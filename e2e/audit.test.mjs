// The audit page: an operator's search by actor and action finding an entry
// made through the API, a bad time range's field violation, the chain
// status, the export links (admins only; the CSV itself fetched and checked),
// a viewer kept out, the count of events since a search, then axe, the
// phone-width check and screenshots in both themes at a desktop and a phone size.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { THEMES, VIEWPORTS, axeProblems, connectionOpen, overflowProblems, settled, themedContext } from './checks.mjs';
import { devLogin, newContext, screenshot, sleep, useBrowser, usePortal, withTimeout } from './portal.mjs';

const portal = usePortal();
const browser = useBrowser();
let agentId;

/** waitForAudit polls the audit API (the test's own check, not the page's) until a search finds something. */
async function waitForAudit(query, what) {
  return withTimeout(
    (async () => {
      for (;;) {
        const res = await portal.api('GET', `/api/v1/audit/entries?${new URLSearchParams(query)}`);
        if ((res.entries ?? []).length > 0) {
          return res.entries;
        }
        await sleep(200);
      }
    })(),
    20_000,
    `waiting for the audit log to record ${what}`,
  );
}

before(async () => {
  await portal.started;
  const { agent } = await portal.api('POST', '/api/v1/agents', { name: 'audit-made', kind: 'AGENT_KIND_DATA' });
  agentId = agent.id;
  await waitForAudit({ resource: `agents/${agentId}`, action: 'portal.agents.v1.AgentCreated' }, 'the agent creation');
});

const results = (page) => page.getByRole('region', { name: 'Audit entries' });
/** The body rows of the results table (the header row has no cells). */
const resultRows = (page) => results(page).getByRole('row').filter({ has: page.getByRole('cell') });

async function openAudit(page, path = '/audit') {
  await page.goto(path);
  await page.getByRole('heading', { name: /^audit$/i }).waitFor();
  await connectionOpen(page).waitFor({ timeout: 15_000 });
}

/** The page's problems, less the 400 answers a test provoked on purpose. */
function unexpected(problems) {
  return problems.filter((p) => !/GET \/api\/v1\/audit\/entries\?\S* answered 400/.test(p));
}

test('an operator finds an entry made through the API by actor and action, and sees no export links', async () => {
  const ctx = await newContext(browser, portal);
  try {
    const page = await ctx.newPage();
    await devLogin(page, 'olga@example.com', 'operator', 'Olga Operator');
    await openAudit(page);
    await page.getByText(/Chain verified: [\d,]+ entries, last hash [0-9a-f]{12}…$/).waitFor({ timeout: 10_000 });

    await page.getByLabel('Actor', { exact: true }).fill('token:e2e');
    await page.getByLabel('Action', { exact: true }).fill('portal.agents.v1.AgentCreated');
    await page.getByLabel('Action', { exact: true }).press('Enter');
    await page.waitForURL(/actor=token%3Ae2e/);
    const row = resultRows(page).filter({ has: page.getByRole('link', { name: `agents/${agentId}` }) });
    await row.waitFor({ timeout: 10_000 });
    assert.equal(await resultRows(page).count(), 1, 'one AgentCreated by token:e2e');
    assert.match(await row.innerText(), /token:e2e/);
    assert.match(await row.innerText(), /AgentCreated/);
    assert.match(await row.innerText(), /success/);
    assert.equal(await row.getByRole('link', { name: `agents/${agentId}` }).getAttribute('href'), `/agents/${agentId}`);

    // The entry's full content, hashes in hex.
    await row.getByRole('button', { name: /^Details of entry/ }).click();
    const details = page.getByRole('row').filter({ hasText: 'Previous hash' });
    await details.waitFor();
    const text = await details.innerText();
    assert.match(text, /Hash\s+[0-9a-f]{64}/);
    assert.match(text, /"name": "audit-made"/);

    // An operator: no export.
    assert.equal(await page.getByRole('link', { name: /^Export/ }).count(), 0, 'no export links for an operator');
    await screenshot(page, 'audit-operator-search');
    assert.deepEqual(unexpected(ctx.problems), [], 'no page errors or console errors');
  } finally {
    await ctx.close();
  }
});

test("a time range that ends before it starts shows the server's field violation", async () => {
  const ctx = await newContext(browser, portal);
  try {
    const page = await ctx.newPage();
    await devLogin(page, 'olga@example.com', 'operator', 'Olga Operator');
    await openAudit(page);
    await page.getByLabel('From', { exact: true }).fill('2026-01-02T10:00');
    await page.getByLabel('To', { exact: true }).fill('2026-01-01T10:00');
    await page.getByRole('button', { name: 'Search' }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'Cannot search the audit log' });
    await alert.waitFor({ timeout: 10_000 });
    assert.match(await alert.innerText(), /end_time: end_time: must be after start_time/);
    assert.equal(await page.getByLabel('To', { exact: true }).getAttribute('aria-invalid'), 'true');
    await screenshot(page, 'audit-bad-range');
    assert.deepEqual(unexpected(ctx.problems), [], 'no page errors or console errors');
  } finally {
    await ctx.close();
  }
});

test('a viewer has no Audit link, and /audit says it needs the operator role', async () => {
  const ctx = await newContext(browser, portal);
  try {
    const page = await ctx.newPage();
    await devLogin(page, 'vera@example.com', 'viewer', 'Vera Viewer');
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Events' }).waitFor({ state: 'attached' });
    assert.equal(await nav.getByRole('link', { name: 'Audit' }).count(), 0, 'no Audit link for a viewer');
    await page.goto('/audit');
    await page.getByText(/This page needs the operator role/).waitFor();
    assert.equal(await page.getByRole('region', { name: 'Audit entries' }).count(), 0);
    assert.deepEqual(ctx.problems, [], 'no page errors or console errors');
  } finally {
    await ctx.close();
  }
});

test('an admin sees the export links, and the CSV downloads with its header and a verified chain', async () => {
  const ctx = await newContext(browser, portal);
  try {
    const page = await ctx.newPage();
    await devLogin(page, 'ada@example.com', 'admin', 'Ada Admin');
    await openAudit(page);
    await page.getByText(/Chain verified: [\d,]+ entries/).waitFor({ timeout: 10_000 });
    const [again] = await Promise.all([
      page.waitForResponse((r) => r.url().includes('/api/v1/audit/entries:verify'), { timeout: 10_000 }),
      page.getByRole('button', { name: 'Verify now' }).click(),
    ]);
    assert.equal(again.status(), 200);
    await page.getByText(/Chain verified: [\d,]+ entries/).waitFor({ timeout: 10_000 });

    const csv = page.getByRole('link', { name: 'Export CSV' });
    const json = page.getByRole('link', { name: 'Export JSON' });
    await csv.waitFor();
    assert.match(await csv.getAttribute('download'), /^audit-\d{4}-\d{2}-\d{2}-\d{4}-\d{2}-\d{2}\.csv$/);
    const href = await csv.getAttribute('href');
    const got = await page.evaluate(async (h) => {
      const r = await fetch(h);
      return { status: r.status, text: await r.text() };
    }, href);
    assert.equal(got.status, 200, got.text.slice(0, 300));
    const lines = got.text.trimEnd().split('\n');
    assert.equal(
      lines[0],
      'seq,event_id,stream_seq,time,recorded_at,actor,action,resource,outcome,source,summary,details,prev_hash,hash,verified',
    );
    assert.ok(lines.some((l) => l.includes(`agents/${agentId}`)), 'the export holds the agent’s entries');
    assert.match(lines.at(-1), /^# chain verification: ok \(\d+ entries\)$/);
    console.log(`export: ${lines.length - 2} CSV rows, last line "${lines.at(-1)}"`);

    const jhref = await json.getAttribute('href');
    const doc = await page.evaluate(async (h) => (await fetch(h)).json(), jhref);
    assert.equal(doc.verification.ok, true);

    // Also a real download, through the link.
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 15_000 }), csv.click()]);
    assert.match(download.suggestedFilename(), /\.csv$/);
    await download.cancel();
    assert.deepEqual(ctx.problems, [], 'no page errors or console errors');
  } finally {
    await ctx.close();
  }
});

test('events after a search are counted, and refresh brings them in', async () => {
  const ctx = await newContext(browser, portal);
  try {
    const page = await ctx.newPage();
    await devLogin(page, 'olga@example.com', 'operator', 'Olga Operator');
    await openAudit(page, '/audit?actor=token%3Ae2e');
    await resultRows(page).first().waitFor({ timeout: 10_000 });
    await page.waitForTimeout(300);

    const { agent } = await portal.api('POST', '/api/v1/agents', { name: 'audit-later', kind: 'AGENT_KIND_DATA' });
    await page.getByText(/^\d+ new events? since this search —/).waitFor({ timeout: 5_000 });
    await waitForAudit({ resource: `agents/${agent.id}` }, 'the later agent');
    await page.getByRole('button', { name: 'refresh' }).click();
    await results(page).getByRole('link', { name: `agents/${agent.id}` }).first().waitFor({ timeout: 10_000 });
    assert.deepEqual(ctx.problems, [], 'no page errors or console errors');
  } finally {
    await ctx.close();
  }
});

for (const theme of THEMES) {
  for (const vpName of Object.keys(VIEWPORTS)) {
    test(`audit page: axe, no sideways scroll, screenshot (${theme}, ${vpName})`, async () => {
      const ctx = await themedContext(browser, portal, theme, vpName);
      try {
        const page = await ctx.newPage();
        await devLogin(page, 'ada@example.com', 'admin', 'Ada Admin');
        await openAudit(page);
        await page.getByText(/Chain verified/).waitFor({ timeout: 10_000 });
        await resultRows(page).first().waitFor({ timeout: 10_000 });
        // One entry open, to see its details too.
        await resultRows(page)
          .filter({ has: page.getByRole('link', { name: `agents/${agentId}` }) })
          .last()
          .getByRole('button', { name: /^Details of entry/ })
          .click();
        await page.getByRole('row').filter({ hasText: 'Previous hash' }).waitFor();
        await settled(page);
        assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), theme);

        const label = `audit page (${theme}, ${vpName})`;
        assert.deepEqual(await axeProblems(page, label), [], 'no serious or critical axe violations');
        assert.deepEqual(await overflowProblems(page, label), [], 'the page fits the viewport');
        // From the top: a full-page shot of a scrolled page draws the sticky header mid-page.
        await page.evaluate(() => window.scrollTo(0, 0));
        await results(page).evaluate((el) => {
          el.scrollLeft = 0;
        });
        await screenshot(page, `audit-${theme}-${vpName}`);
        assert.deepEqual(ctx.problems, [], 'no page errors or console errors');
      } finally {
        await ctx.close();
      }
    });
  }
}
