// The dashboard in a real browser: the fleet's figures, live from the event
// stream; the global context selector narrowing them to a customer or an
// agent, kept across a reload and followed by a second tab; accessibility
// and screenshots in both themes at a desktop and a phone width.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { THEMES, VIEWPORTS, axeProblems, idleIn, overflowProblems, settled, themedContext, waitAgent } from './checks.mjs';
import { devLogin, newContext, screenshot, useBrowser, usePortal } from './portal.mjs';

const portal = usePortal();
const browser = useBrowser();
/** Agent ids by name. */
const ids = {};

/**
 * waitState waits until the agent is in the state with no operation pending;
 * an agent in error (short of the state wanted) fails it at once.
 */
function waitState(id, state, ms = 60_000) {
  const there = idleIn(state);
  return waitAgent(
    portal,
    id,
    (a) => {
      if (there(a)) {
        return true;
      }
      if (a.state === 'AGENT_STATE_ERRORED') {
        throw new Error(`agent ${a.name} failed: ${JSON.stringify(a.error ?? a.stateReason)}`);
      }
      return false;
    },
    `to be ${state}`,
    ms,
  );
}

async function lifecycle(id, ...steps) {
  for (const [action, state] of steps) {
    await portal.api('POST', `/api/v1/agents/${id}:${action}`, {});
    await waitState(id, state);
  }
}

before(async () => {
  await portal.started;
  for (const [name, customer] of [
    ['acme-web', 'acme'],
    ['acme-etl', 'acme'],
    ['globex-api', 'globex'],
  ]) {
    const { agent } = await portal.api('POST', '/api/v1/agents', {
      name,
      kind: 'AGENT_KIND_DATA',
      version: '1.0.0',
      owner: 'team-e2e',
      labels: { customer },
    });
    ids[name] = agent.id;
  }
  await lifecycle(
    ids['acme-web'],
    ['provision', 'AGENT_STATE_PROVISIONED'],
    ['deploy', 'AGENT_STATE_DEPLOYED'],
    ['start', 'AGENT_STATE_RUNNING'],
  );
  await lifecycle(ids['globex-api'], ['provision', 'AGENT_STATE_PROVISIONED']);
});

/** The event stream's indicator in the header, once live. */
function streamOpen(page) {
  return page.getByRole('status', { name: 'Event stream: open' });
}

/** A key figure's card: a link named by its label then its value ("Running 1 …"). */
function kpi(page, label, value) {
  return page
    .getByRole('region', { name: 'Key figures' })
    .getByRole('link', { name: new RegExp(`^${label} ${value}\\b`) });
}

/** The agent status cards, and one of them by the agent's name. */
function cards(page) {
  return page.getByRole('list', { name: /^Agents in / }).getByRole('listitem');
}
function cardOf(page, name) {
  return cards(page).filter({ has: page.getByRole('link', { name, exact: true }) });
}

function trigger(page) {
  return page.getByRole('button', { name: /^Context: / });
}

/** chooseContext opens the selector with the keyboard, searches, and picks an option by its name. */
async function chooseContext(page, search, option) {
  await trigger(page).focus();
  await page.keyboard.press('Enter');
  const box = page.getByRole('combobox', { name: 'Search agents and customers' });
  await box.waitFor();
  assert.equal(await box.evaluate((el) => el === document.activeElement), true, 'the search box has the focus');
  await page.keyboard.type(search);
  const wanted = page.getByRole('option', { name: option });
  await wanted.waitFor();
  // Down the list with the arrows until the wanted option is the selected one.
  for (let i = 0; i < 10 && (await wanted.getAttribute('aria-selected')) !== 'true'; i++) {
    await page.keyboard.press('ArrowDown');
  }
  assert.equal(await wanted.getAttribute('aria-selected'), 'true', `${option} is highlighted`);
  await page.keyboard.press('Enter');
  await box.waitFor({ state: 'detached' });
}

async function openDashboard(page) {
  await page.goto('/');
  await streamOpen(page).waitFor({ timeout: 15_000 });
  await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
  await page.getByRole('list', { name: 'Recent activity' }).waitFor();
}

test("the dashboard shows the fleet's figures, its states, the activity and the agents", async () => {
  const ctx = await newContext(browser, portal);
  try {
    const page = await ctx.newPage();
    await devLogin(page, 'olga@example.com', 'operator', 'Olga Operator');
    await openDashboard(page);
    await kpi(page, 'Agents', 3).waitFor();
    await kpi(page, 'Running', 1).waitFor();
    await kpi(page, 'In error', 0).waitFor();
    await page.getByRole('status').filter({ hasText: 'All systems operational' }).waitFor();
    assert.equal(await kpi(page, 'Running', 1).getAttribute('href'), '/agents?state=AGENT_STATE_RUNNING');
    // The last hour, rebuilt from the events: up from nothing.
    await kpi(page, 'Running', 1).getByRole('img', { name: /^Running, last 60 minutes: from 0 to 1/ }).waitFor();

    const legend = page.getByRole('list', { name: 'Agents by state' });
    for (const [state, n] of [
      ['Draft', 1],
      ['Provisioned', 1],
      ['Running', 1],
    ]) {
      await legend.getByRole('link', { name: `${state} ${n}` }).waitFor();
    }
    assert.equal(await cards(page).count(), 3);
    const web = cardOf(page, 'acme-web');
    await web.getByText('Running', { exact: true }).waitFor();
    await web.getByText('team-e2e').waitFor();
    await web.getByText('acme', { exact: true }).waitFor();
    await page.getByRole('link', { name: 'View all 3 agents' }).waitFor();
    const activity = page.getByRole('list', { name: 'Recent activity' });
    await activity.getByRole('listitem').filter({ hasText: 'acme-web DEPLOYED → RUNNING' }).waitFor();
    // The sparklines draw on canvases.
    assert.ok((await page.locator('canvas').count()) >= 4, 'the sparklines are drawn');
    assert.equal(await page.evaluate(() => document.querySelectorAll('style').length), 0, 'no <style> injected');
    assert.deepEqual(ctx.problems, [], 'no page errors or console errors');
  } finally {
    await ctx.close();
  }
});

test("a state change made through the API reaches the agent's card and the figures within seconds, without a reload", async () => {
  const ctx = await newContext(browser, portal);
  try {
    const page = await ctx.newPage();
    await devLogin(page, 'olga@example.com', 'operator', 'Olga Operator');
    await openDashboard(page);
    await kpi(page, 'Running', 1).waitFor();
    const etl = cardOf(page, 'acme-etl');
    await etl.getByText('Draft', { exact: true }).waitFor();
    const changesBefore = Number(
      /^State changes\s*(\d+)/.exec(
        await page.getByRole('region', { name: 'Key figures' }).getByRole('link', { name: /^State changes \d+/ }).innerText(),
      )?.[1] ?? NaN,
    );
    assert.ok(Number.isFinite(changesBefore), 'the state changes figure is shown');
    await page.evaluate(() => {
      window.__e2eNoReload = true;
    });

    // Provision acme-etl: its card and the state count follow.
    await portal.api('POST', `/api/v1/agents/${ids['acme-etl']}:provision`, {});
    await waitState(ids['acme-etl'], 'AGENT_STATE_PROVISIONED');
    let t0 = Date.now();
    await etl.getByText('Provisioned', { exact: true }).waitFor({ timeout: 5_000 });
    await page.getByRole('list', { name: 'Agents by state' }).getByRole('link', { name: 'Provisioned 2' }).waitFor({ timeout: 5_000 });
    await kpi(page, 'State changes', changesBefore + 1).waitFor({ timeout: 5_000 });
    const provisionMs = Date.now() - t0;

    // Stop acme-web: the Running figure drops.
    await portal.api('POST', `/api/v1/agents/${ids['acme-web']}:stop`, {});
    await waitState(ids['acme-web'], 'AGENT_STATE_STOPPED');
    t0 = Date.now();
    await kpi(page, 'Running', 0).waitFor({ timeout: 5_000 });
    await cardOf(page, 'acme-web').getByText('Stopped', { exact: true }).waitFor({ timeout: 5_000 });
    const stopMs = Date.now() - t0;
    await page
      .getByRole('list', { name: 'Recent activity' })
      .getByRole('listitem')
      .first()
      .filter({ hasText: 'acme-web RUNNING → STOPPED' })
      .waitFor({ timeout: 5_000 });
    console.log(`live: the dashboard showed the provision ${provisionMs} ms and the stop ${stopMs} ms after the API reported them`);
    assert.ok(provisionMs < 3_000 && stopMs < 3_000, 'within a couple of seconds');
    assert.equal(await page.evaluate(() => window.__e2eNoReload), true, 'the page was not reloaded');
    assert.deepEqual(ctx.problems, [], 'no page errors or console errors');
  } finally {
    await ctx.close();
  }
});

test('the context selector narrows the dashboard to a customer, survives a reload, is followed by another tab, and narrows to an agent', async () => {
  const ctx = await newContext(browser, portal);
  try {
    const page = await ctx.newPage();
    await devLogin(page, 'olga@example.com', 'operator', 'Olga Operator');
    await openDashboard(page);
    await kpi(page, 'Agents', 3).waitFor();
    assert.equal(await trigger(page).getAttribute('aria-label'), 'Context: All agents');

    // Escape closes the list and gives the focus back.
    await trigger(page).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('combobox', { name: 'Search agents and customers' }).waitFor();
    assert.equal(await page.evaluate(() => document.querySelectorAll('style').length), 0, 'the open popover injected no <style>');
    await page.keyboard.press('Escape');
    await page.getByRole('combobox').waitFor({ state: 'detached' });
    assert.equal(await trigger(page).evaluate((el) => el === document.activeElement), true, 'the focus is back on the trigger');

    // Customer acme, by the keyboard.
    await chooseContext(page, 'acme', /^Customer acme/);
    await page.getByRole('button', { name: 'Context: Customer acme' }).waitFor();
    assert.equal(await trigger(page).evaluate((el) => el === document.activeElement), true, 'the focus is back on the trigger');
    await kpi(page, 'Agents', 2).waitFor();
    await page.getByText('Customer acme', { exact: true }).waitFor();
    await cardOf(page, 'acme-web').waitFor();
    await cardOf(page, 'acme-etl').waitFor();
    assert.equal(await cards(page).count(), 2);
    assert.equal(await cardOf(page, 'globex-api').count(), 0);
    await settled(page);
    await screenshot(page, 'dashboard-customer-acme-desktop');

    // A reload keeps it.
    await openDashboard(page);
    await page.getByRole('button', { name: 'Context: Customer acme' }).waitFor();
    await kpi(page, 'Agents', 2).waitFor();

    // A second tab opens in the same context, and follows a change made in the first.
    const page2 = await ctx.newPage();
    await openDashboard(page2);
    await page2.getByRole('button', { name: 'Context: Customer acme' }).waitFor();
    await kpi(page2, 'Agents', 2).waitFor();
    await chooseContext(page, 'globex', /^Customer globex/);
    await kpi(page, 'Agents', 1).waitFor();
    await page2.getByRole('button', { name: 'Context: Customer globex' }).waitFor({ timeout: 5_000 });
    await kpi(page2, 'Agents', 1).waitFor({ timeout: 5_000 });
    await cardOf(page2, 'globex-api').waitFor();
    assert.equal(await cards(page2).count(), 1);

    // One agent.
    await chooseContext(page, 'acme-web', /^acme-web/);
    await page.getByRole('button', { name: 'Context: Agent acme-web' }).waitFor();
    await kpi(page, 'Agents', 1).waitFor();
    await cardOf(page, 'acme-web').waitFor();
    assert.equal(await cards(page).count(), 1);
    await kpi(page2, 'Agents', 1).waitFor();
    await page2.getByRole('button', { name: 'Context: Agent acme-web' }).waitFor({ timeout: 5_000 });

    // Its quick actions: open it.
    await page.getByRole('button', { name: 'Quick actions for acme-web' }).click();
    await page.getByRole('menuitem', { name: 'Open agent' }).click();
    await page.waitForURL((u) => u.pathname === `/agents/${ids['acme-web']}`);
    await page.goBack();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();

    // Back to every agent, from the dashboard.
    await page.getByRole('button', { name: 'Show all agents' }).click();
    await page.getByRole('button', { name: 'Context: All agents' }).waitFor();
    await kpi(page, 'Agents', 3).waitFor();
    await page2.getByRole('button', { name: 'Context: All agents' }).waitFor({ timeout: 5_000 });
    assert.deepEqual(ctx.problems, [], 'no page errors or console errors');
  } finally {
    await ctx.close();
  }
});

test('an agent that fails shows at once: in error, the banner degraded, its error in the activity', async () => {
  const ctx = await newContext(browser, portal);
  try {
    const page = await ctx.newPage();
    await devLogin(page, 'olga@example.com', 'operator', 'Olga Operator');
    await openDashboard(page);
    await kpi(page, 'In error', 0).waitFor();
    await page.getByRole('status').filter({ hasText: 'All systems operational' }).waitFor();

    // An agent whose binary does not exist: its deployment fails.
    const { agent } = await portal.api('POST', '/api/v1/agents', {
      name: 'globex-broken',
      kind: 'AGENT_KIND_API',
      version: '0.9.0',
      owner: 'team-e2e',
      labels: { customer: 'globex' },
      runtime: { image: '/nonexistent/agent-binary' },
    });
    ids['globex-broken'] = agent.id;
    await kpi(page, 'Agents', 4).waitFor({ timeout: 5_000 });
    await portal.api('POST', `/api/v1/agents/${agent.id}:provision`, {});
    const { state: after } = await waitAgent(
      portal,
      agent.id,
      (a) => !a.pendingOperation && (a.state === 'AGENT_STATE_PROVISIONED' || a.state === 'AGENT_STATE_ERRORED'),
      'the provisioning to end',
      60_000,
    );
    if (after === 'AGENT_STATE_PROVISIONED') {
      await portal.api('POST', `/api/v1/agents/${agent.id}:deploy`, {});
      await waitState(agent.id, 'AGENT_STATE_ERRORED');
    }
    const t0 = Date.now();
    await kpi(page, 'In error', 1).waitFor({ timeout: 5_000 });
    await page.getByRole('status').filter({ hasText: 'Degraded: 1 agent in error' }).waitFor({ timeout: 5_000 });
    await cardOf(page, 'globex-broken').getByText('Errored', { exact: true }).waitFor({ timeout: 5_000 });
    console.log(`live: the failure showed ${Date.now() - t0} ms after the API reported it`);

    // The activity's newest entry is the failure, with the error behind its Details button.
    const entry = page.getByRole('list', { name: 'Recent activity' }).getByRole('listitem').filter({ hasText: /globex-broken \w+ → ERRORED/ }).first();
    const details = entry.getByRole('button', { name: 'Details' });
    assert.equal(await details.getAttribute('aria-expanded'), 'false');
    await details.click();
    assert.equal(await entry.getByRole('button', { name: 'Hide details' }).getAttribute('aria-expanded'), 'true');
    await entry.getByText(/BINARY_NOT_FOUND/).waitFor();
    await screenshot(page, 'dashboard-agent-error');
    assert.deepEqual(ctx.problems, [], 'no page errors or console errors');
  } finally {
    await ctx.close();
  }
});

for (const theme of THEMES) {
  for (const vp of Object.keys(VIEWPORTS)) {
    test(`screenshots and axe: the dashboard, ${theme} theme, ${vp}`, async () => {
      const ctx = await themedContext(browser, portal, theme, vp);
      try {
        const page = await ctx.newPage();
        await devLogin(page, 'olga@example.com', 'operator', 'Olga Operator');
        await openDashboard(page);
        await kpi(page, 'Agents', 4).waitFor();
        await kpi(page, 'In error', 1).waitFor();
        await settled(page);
        assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), theme);
        const label = `dashboard (${theme}, ${vp})`;
        assert.deepEqual(await axeProblems(page, label), [], 'no serious or critical accessibility violations');
        if (vp === 'mobile') {
          assert.deepEqual(await overflowProblems(page, label), [], 'the page fits the phone');
        }
        await screenshot(page, `dashboard-${theme}-${vp}`);

        // The context selector, open.
        await trigger(page).click();
        await page.getByRole('option', { name: /^Customer acme/ }).waitFor();
        assert.deepEqual(
          await axeProblems(page, `dashboard, the context selector open (${theme}, ${vp})`),
          [],
          'no serious or critical accessibility violations with the selector open',
        );
        await screenshot(page, `dashboard-context-${theme}-${vp}`);
        await page.keyboard.press('Escape');
        assert.deepEqual(ctx.problems, [], 'no page errors or console errors');
      } finally {
        await ctx.close();
      }
    });
  }
}
