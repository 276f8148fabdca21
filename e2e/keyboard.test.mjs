// Keyboard only: every page's controls are reached with Tab, each showing a
// visible focus ring; an operator runs a lifecycle action and a bulk action
// without the mouse.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { waitAgent } from './checks.mjs';
import { devLogin, newContext, screenshot, useBrowser, usePortal } from './portal.mjs';

const portal = usePortal();
const browser = useBrowser();
let agentId;

before(async () => {
  await portal.started;
  for (const name of ['kb-one', 'kb-two', 'kb-three']) {
    const { agent } = await portal.api('POST', '/api/v1/agents', { name, kind: 'AGENT_KIND_DATA', labels: { customer: 'acme' } });
    agentId ??= agent.id;
  }
});

/**
 * tabWalk presses Tab from the top of the page until focus comes back round
 * (or 150 stops), and returns each stop: what it is, and whether a focus ring
 * shows (an outline, or a box-shadow that only focus adds).
 */
async function tabWalk(page) {
  await page.evaluate(() => {
    document.activeElement?.blur?.();
    window.scrollTo(0, 0);
  });
  await page.locator('body').focus();
  const stops = [];
  const seen = new Set();
  for (let i = 0; i < 200; i++) {
    await page.keyboard.press('Tab');
    const stop = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) {
        return null;
      }
      if (!el.dataset.kbId) {
        el.dataset.kbId = String(Math.random());
      }
      const cs = getComputedStyle(el);
      const outline = cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 1;
      const name =
        el.getAttribute('aria-label') ||
        (el.labels && el.labels[0]?.textContent) ||
        el.textContent?.trim().slice(0, 40) ||
        el.getAttribute('placeholder') ||
        '';
      return {
        id: el.dataset.kbId,
        what: `${el.tagName.toLowerCase()}${el.getAttribute('role') ? `[role=${el.getAttribute('role')}]` : ''} "${name.trim()}"`,
        ring: outline || (cs.boxShadow !== 'none' && el.matches(':focus-visible')),
      };
    });
    if (!stop || stop.id === stops[0]?.id) {
      break; // round to the start, or out of the page
    }
    // Tab moves inside some controls (a date input's fields) before leaving
    // them: one stop each.
    if (!seen.has(stop.id)) {
      seen.add(stop.id);
      stops.push(stop);
    }
  }
  return stops;
}

/** The visible, enabled controls on the page that Tab should reach. */
async function controls(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll('a[href], button, input, select, textarea, [tabindex]:not([tabindex="-1"])')]
      .filter((el) => {
        if (el.disabled || el.closest('[inert], [aria-hidden="true"]')) {
          return false;
        }
        const r = el.getBoundingClientRect();
        const cs = getComputedStyle(el);
        return r.width > 0 && r.height > 0 && cs.visibility !== 'hidden' && !el.classList.contains('skip-link');
      })
      .map((el) => {
        if (!el.dataset.kbId) {
          el.dataset.kbId = String(Math.random());
        }
        return { id: el.dataset.kbId, what: `${el.tagName.toLowerCase()} "${(el.getAttribute('aria-label') || el.textContent || '').trim().slice(0, 40)}"` };
      }),
  );
}

const PAGES = [
  { path: '/', heading: /dashboard/i },
  { path: '/agents', heading: /^agents$/i },
  { path: '/agents?view=cards', heading: /^agents$/i },
  { path: 'AGENT', heading: /kb-one/ },
  { path: '/events', heading: /events/i },
  { path: '/audit', heading: /audit/i },
  { path: '/admin/users', heading: /users/i },
  { path: '/admin/tokens', heading: /tokens/i },
  { path: '/admin/grants', heading: /grants/i },
];

test('Tab reaches every control on every page, each with a visible focus ring', async () => {
  const ctx = await newContext(browser, portal);
  try {
    const page = await ctx.newPage();
    await devLogin(page, 'ada@example.com', 'admin', 'Ada Admin');
    const problems = [];
    for (const p of PAGES) {
      await page.goto(p.path === 'AGENT' ? `/agents/${agentId}` : p.path);
      await page.getByRole('heading', { level: 1, name: p.heading }).waitFor();
      await page.waitForLoadState('networkidle').catch(() => {});
      const stops = await tabWalk(page);
      const want = await controls(page);
      const reached = new Set(stops.map((s) => s.id));
      for (const s of stops.filter((s) => !s.ring)) {
        problems.push(`${p.path}: ${s.what} has no visible focus ring`);
      }
      for (const c of want.filter((c) => !reached.has(c.id))) {
        problems.push(`${p.path}: ${c.what} is not reached by Tab`);
      }
      console.log(`${p.path}: ${stops.length} tab stops, ${want.length} visible controls`);
    }
    assert.deepEqual(problems, [], problems.join('\n'));
    assert.deepEqual(ctx.problems, [], 'no page errors or console errors');
  } finally {
    await ctx.close();
  }
});

/** focusByTab presses Tab until the focused element matches, at most n times. */
async function focusByTab(page, test, what, n = 80, arg = undefined) {
  for (let i = 0; i < n; i++) {
    await page.keyboard.press('Tab');
    if (process.env.KB_DEBUG) console.log('tab ->', await page.evaluate(() => document.activeElement?.outerHTML.slice(0, 100)));
    if (await page.evaluate(test, arg)) {
      return;
    }
  }
  throw new Error(`Tab never reached ${what}`);
}

test('an operator provisions an agent and runs a bulk action with the keyboard alone', async () => {
  const ctx = await newContext(browser, portal);
  try {
    const page = await ctx.newPage();
    await devLogin(page, 'olga@example.com', 'operator', 'Olga Operator');
    await page.goto('/agents?query=kb-');
    await page.getByRole('link', { name: 'kb-one' }).waitFor();

    // One agent: the row's action menu, Provision, the confirmation.
    await focusByTab(page, () => document.activeElement?.getAttribute('aria-label') === 'Actions for kb-one', 'the action menu of kb-one');
    await page.keyboard.press('Enter');
    await page.getByRole('menu').waitFor();
    // Enter opens the menu with its first item focused; walk to Provision.
    for (let i = 0; i < 5 && !(await page.evaluate(() => /^Provision/.test(document.activeElement?.textContent ?? ''))); i++) {
      await page.keyboard.press('ArrowDown');
    }
    assert.match(await page.evaluate(() => document.activeElement?.textContent ?? ''), /^Provision/);
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog');
    await dialog.getByTestId('transition-preview').waitFor();
    await page.keyboard.type('keyboard only');
    await focusByTab(page, () => document.activeElement?.textContent === 'Provision', 'the Provision button', 5);
    await screenshot(page, 'keyboard-confirm-focus');
    await page.keyboard.press('Enter');
    await waitAgent(portal, agentId, (a) => a.state === 'AGENT_STATE_PROVISIONED', 'kb-one provisioned', 30_000);
    await page.getByRole('row', { name: /kb-one/ }).getByText('Provisioned').waitFor();

    // Bulk: Space ticks the other two, then the toolbar's Provision.
    await page.locator('body').focus();
    for (const name of ['kb-three', 'kb-two']) {
      await focusByTab(page, (n) => document.activeElement?.getAttribute('aria-label') === `Select ${n}`, `the checkbox of ${name}`, 80, name);
      await page.keyboard.press('Space');
    }
    await page.getByRole('toolbar', { name: 'Bulk actions' }).getByText('2 selected').waitFor();
    await page.locator('body').focus();
    await focusByTab(page, () => document.activeElement?.textContent === 'Provision (2)', 'the bulk Provision button');
    await page.keyboard.press('Enter');
    const bulk = page.getByRole('dialog', { name: 'Provision 2 agents' });
    await bulk.getByTestId('bulk-preview').waitFor();
    await focusByTab(page, () => document.activeElement?.textContent === 'Provision 2 agents', 'the confirm button', 10);
    await page.keyboard.press('Enter');
    await bulk.getByTestId('bulk-summary').waitFor({ timeout: 30_000 });
    assert.equal(await bulk.getByTestId('bulk-summary').innerText(), 'Done: 2 succeeded, 0 failed, 0 skipped.');
    // The dialog's own button has the focus path too; Escape closes it.
    await page.keyboard.press('Escape');
    await bulk.waitFor({ state: 'detached' });
    assert.deepEqual(ctx.problems, [], 'no page errors or console errors');
  } finally {
    await ctx.close();
  }
});
