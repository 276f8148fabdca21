// The agents page in a real browser against the real portal: an operator
// creates an agent with the form and takes it to RUNNING with the action
// menu while a second browser watches the same rows change; a bulk action
// with its live progress dialog and summary.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { idle, waitAgent } from './checks.mjs';
import { devLogin, newContext, screenshot, useBrowser, usePortal } from './portal.mjs';

const portal = usePortal();
const browser = useBrowser();

/** rowState resolves with Date.now() once the agents table's row for name shows the state label. */
function rowState(page, name, label, timeout = 30_000) {
  return page
    .waitForFunction(
      ({ name, label }) =>
        [...document.querySelectorAll('tbody tr')].some((r) => {
          const link = r.querySelector('a');
          return link?.textContent === name && r.textContent.includes(label);
        }),
      { name, label },
      { timeout, polling: 'raf' },
    )
    .then(
      () => Date.now(),
      async (err) => {
        const rows = await page.locator('tbody tr').allInnerTexts().catch(() => []);
        throw new Error(`${page.url()}: no row "${name}" showing ${label} within ${timeout} ms; rows: ${JSON.stringify(rows)} (${err.message})`);
      },
    );
}

/** waitIdle waits until no operation is pending on the agent. */
const waitIdle = (id) => waitAgent(portal, id, idle, 'idle', 30_000);

test('an operator creates an agent and starts it from the table; a second browser sees each change within a second', async () => {
  const octx = await newContext(browser, portal);
  const vctx = await newContext(browser, portal);
  try {
    const op = await octx.newPage();
    const viewer = await vctx.newPage();
    await devLogin(op, 'olga@example.com', 'operator', 'Olga Operator');
    await devLogin(viewer, 'vera@example.com', 'viewer', 'Vera Viewer');

    // Create with the form: it opens the new agent's page.
    await op.goto('/agents');
    await op.getByRole('button', { name: 'New agent' }).click();
    const form = op.getByRole('dialog', { name: 'New agent' });
    await form.getByLabel('Name', { exact: true }).fill('ui-made');
    await form.getByLabel('Customer').fill('acme');
    await form.getByLabel('Kind').selectOption('AGENT_KIND_DATA');
    await screenshot(op, 'agents-create-dialog');
    await form.getByRole('button', { name: 'Create agent' }).click();
    await op.waitForURL(/\/agents\/[0-9a-f-]{36}$/);
    const id = op.url().split('/').pop();
    await op.getByRole('heading', { level: 1, name: /ui-made/ }).waitFor();

    await op.goto('/agents');
    await viewer.goto('/agents');
    await rowState(op, 'ui-made', 'Draft');
    await rowState(viewer, 'ui-made', 'Draft');
    for (const p of [op, viewer]) {
      await p.evaluate(() => {
        window.__e2eNoReload = true;
      });
    }
    // The viewer has no actions to press.
    assert.equal(await viewer.getByRole('button', { name: /Actions for/ }).count(), 0);
    assert.equal(await viewer.getByRole('button', { name: 'New agent' }).count(), 0);

    const gaps = [];
    for (const [action, label] of [
      ['Provision', 'Provisioned'],
      ['Deploy', 'Deployed'],
      ['Start', 'Running'],
    ]) {
      await op.getByRole('button', { name: 'Actions for ui-made' }).click();
      await op.getByRole('menuitem', { name: new RegExp(`^${action}`) }).click();
      const dialog = op.getByRole('dialog');
      await dialog.getByTestId('transition-preview').waitFor();
      await dialog.getByRole('button', { name: action, exact: true }).click();
      const [tOp, tViewer] = await Promise.all([rowState(op, 'ui-made', label), rowState(viewer, 'ui-made', label)]);
      gaps.push(Math.abs(tViewer - tOp));
      await waitIdle(id);
    }
    console.log(`the viewer's row changed ${gaps.map((g) => `${g} ms`).join(', ')} after the operator's`);
    for (const g of gaps) {
      assert.ok(g < 1000, `the second browser saw the change ${g} ms after the first; want under a second`);
    }
    const agent = (await portal.api('GET', `/api/v1/agents/${id}`)).agent;
    assert.equal(agent.state, 'AGENT_STATE_RUNNING');
    assert.equal(agent.labels.customer, 'acme');
    assert.equal(agent.creator, 'dev:olga@example.com');
    for (const p of [op, viewer]) {
      assert.equal(await p.evaluate(() => window.__e2eNoReload), true, 'no reload');
    }
    await screenshot(viewer, 'agents-viewer-live');
    assert.deepEqual(octx.problems, [], 'no page errors or console errors (operator)');
    assert.deepEqual(vctx.problems, [], 'no page errors or console errors (viewer)');
  } finally {
    await octx.close();
    await vctx.close();
  }
});

test('a bulk action shows its live progress and the summary', async () => {
  const names = ['bulk-a', 'bulk-b', 'bulk-c', 'bulk-d', 'bulk-e', 'bulk-f'];
  for (const name of names) {
    await portal.api('POST', '/api/v1/agents', { name, kind: 'AGENT_KIND_DATA' });
  }
  // One that cannot be provisioned: the dialog says it will be skipped.
  const odd = (await portal.api('POST', '/api/v1/agents', { name: 'bulk-odd', kind: 'AGENT_KIND_DATA' })).agent;
  await portal.api('POST', `/api/v1/agents/${odd.id}:provision`, {});
  await waitIdle(odd.id);

  const ctx = await newContext(browser, portal);
  try {
    const page = await ctx.newPage();
    await devLogin(page, 'olga@example.com', 'operator', 'Olga Operator');
    await page.goto('/agents?query=bulk-');
    await rowState(page, 'bulk-odd', 'Provisioned');
    await page.getByLabel('Select all agents on this page').check();
    const bar = page.getByRole('toolbar', { name: 'Bulk actions' });
    await bar.getByText('7 selected').waitFor();
    await bar.getByRole('button', { name: 'Provision (6)' }).click();

    const dialog = page.getByRole('dialog', { name: 'Provision 7 agents' });
    const preview = dialog.getByTestId('bulk-preview');
    await preview.getByText('6 agents').waitFor();
    assert.match(await preview.innerText(), /DRAFT → PROVISIONED × 6/);
    assert.match(await preview.innerText(), /1 agent will be skipped/);
    // One at a time, so the bar goes through every step.
    await dialog.getByLabel('At once').selectOption('1');
    await screenshot(page, 'agents-bulk-confirm');

    // Record every value the progress bar shows.
    await page.evaluate(() => {
      window.__progress = [];
      const seen = () => {
        const bar = document.querySelector('[role="progressbar"]');
        const v = bar?.getAttribute('aria-valuenow');
        if (v !== null && v !== undefined && window.__progress.at(-1) !== Number(v)) {
          window.__progress.push(Number(v));
        }
      };
      new MutationObserver(seen).observe(document.body, { subtree: true, childList: true, attributes: true });
    });
    await dialog.getByRole('button', { name: 'Provision 6 agents' }).click();
    await dialog.getByRole('progressbar').waitFor();
    await screenshot(page, 'agents-bulk-progress');
    const summary = dialog.getByTestId('bulk-summary');
    await summary.waitFor({ timeout: 60_000 });
    assert.equal(await summary.innerText(), 'Done: 6 succeeded, 0 failed, 1 skipped.');
    const progress = await page.evaluate(() => window.__progress);
    console.log(`bulk progress values seen: ${progress.join(' → ')}`);
    assert.equal(progress.at(-1), 7, 'the bar ends full');
    // Events that arrive together may render together, so not every step
    // shows; the bar must still pass through values between empty and full.
    assert.ok(progress.some((v) => v > 0 && v < 7), `the bar filled in steps, not at once: ${progress.join(', ')}`);
    for (let i = 1; i < progress.length; i++) {
      assert.ok(progress[i] >= progress[i - 1], `progress never goes back: ${progress.join(', ')}`);
    }
    const steps = dialog.getByRole('list', { name: 'Steps' }).getByRole('listitem');
    assert.equal(await steps.count(), 7);
    await dialog.getByText('Skipped').first().waitFor();
    await screenshot(page, 'agents-bulk-summary');
    await dialog.getByRole('button', { name: 'Done' }).click();

    // The table shows them provisioned, live, and the selection is gone.
    for (const name of names) {
      await rowState(page, name, 'Provisioned');
    }
    assert.equal(await page.getByRole('toolbar', { name: 'Bulk actions' }).count(), 0);
    const list = await portal.api('GET', '/api/v1/agents?query=bulk-&page_size=50');
    assert.equal(list.agents.filter((a) => a.state === 'AGENT_STATE_PROVISIONED').length, 7);
    assert.deepEqual(ctx.problems, [], 'no page errors or console errors');
  } finally {
    await ctx.close();
  }
});

test('the context selector narrows the agents page, in table and cards, and back', async () => {
  for (const [name, customer] of [
    ['ctx-acme-1', 'acme'],
    ['ctx-acme-2', 'acme'],
    ['ctx-globex-1', 'globex'],
  ]) {
    await portal.api('POST', '/api/v1/agents', { name, kind: 'AGENT_KIND_DATA', labels: { customer } });
  }
  const ctx = await newContext(browser, portal);
  try {
    const page = await ctx.newPage();
    await devLogin(page, 'vera@example.com', 'viewer', 'Vera Viewer');
    await page.goto('/agents?query=ctx-&view=table');
    await rowState(page, 'ctx-globex-1', 'Draft');

    // Choose Customer acme in the header's selector.
    await page.getByRole('button', { name: /^Context: / }).click();
    await page.getByRole('combobox', { name: 'Search agents and customers' }).fill('acme');
    await page.getByRole('option', { name: /^Customer acme/ }).click();
    await page.getByRole('button', { name: 'Context: Customer acme' }).waitFor();
    await page.getByText('Customer acme', { exact: true }).first().waitFor();
    await page.waitForFunction(() => !document.body.textContent.includes('ctx-globex-1'), null, { timeout: 5_000 });
    const names = async () => page.locator('tbody tr a').allInnerTexts();
    assert.deepEqual((await names()).sort(), ['ctx-acme-1', 'ctx-acme-2']);
    await page.getByRole('button', { name: 'Cards' }).click();
    const cards = page.getByRole('list', { name: 'Agents' }).getByRole('listitem');
    await cards.first().waitFor();
    assert.equal(await cards.count(), 2);
    await screenshot(page, 'agents-context-acme');

    // Back to every agent from the page's own note.
    await page.getByRole('button', { name: 'Show all agents' }).click();
    await page.getByRole('button', { name: 'Context: All agents' }).waitFor();
    await page.getByText('ctx-globex-1').first().waitFor();
    assert.equal(await cards.count(), 3);
    assert.deepEqual(ctx.problems, [], 'no page errors or console errors');
  } finally {
    await ctx.close();
  }
});
