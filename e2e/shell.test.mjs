// The shell as it is today: the development login, who is signed in, the
// event stream's connection state, a viewer refused a write, and an agent
// change made elsewhere arriving live.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectionOpen, idleIn, waitAgent, watchFrames } from './checks.mjs';
import { devLogin, newContext, pageFetch, screenshot, useBrowser, usePortal } from './portal.mjs';

const portal = usePortal();
const browser = useBrowser();

/** The principal's name or email, whichever the shell shows. */
function principal(page, email, name) {
  return page.getByText(email).or(page.getByText(name)).first();
}

test('the development login as an operator shows the user, their role and the "development login" label', async () => {
  const ctx = await newContext(browser, portal);
  try {
    const page = await ctx.newPage();
    await devLogin(page, 'olga@example.com', 'operator', 'Olga Operator');
    await principal(page, 'olga@example.com', 'Olga Operator').waitFor();
    await page.getByText(/development login/i).first().waitFor();
    await page.getByText(/\boperator\b/).first().waitFor();
    const me = await pageFetch(page, 'GET', '/api/v1/me');
    assert.equal(me.status, 200, JSON.stringify(me.body));
    assert.equal(me.body.principal.role, 'ROLE_OPERATOR');
    assert.equal(me.body.principal.email, 'olga@example.com');
    assert.equal(me.body.principal.devLogin, true);
    await screenshot(page, 'shell-operator');
    assert.deepEqual(ctx.problems, [], 'no page errors or console errors');
  } finally {
    await ctx.close();
  }
});

test('the connection indicator reaches the open state', async () => {
  const ctx = await newContext(browser, portal);
  try {
    const page = await ctx.newPage();
    await devLogin(page, 'olga@example.com', 'operator', 'Olga Operator');
    await connectionOpen(page).waitFor({ timeout: 15_000 });
    assert.deepEqual(ctx.problems, [], 'no page errors or console errors');
  } finally {
    await ctx.close();
  }
});

test("a viewer's forced write is refused with 403 (an operator's same request is accepted)", async () => {
  const ctx = await newContext(browser, portal);
  const octx = await newContext(browser, portal);
  try {
    const page = await ctx.newPage();
    await devLogin(page, 'vera@example.com', 'viewer', 'Vera Viewer');
    await principal(page, 'vera@example.com', 'Vera Viewer').waitFor();
    const refused = await pageFetch(page, 'POST', '/api/v1/agents', { name: 'viewer-forced', kind: 'AGENT_KIND_DATA' });
    assert.ok(refused.csrf, 'the viewer page has a portal_csrf cookie to send');
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
    const list = await portal.api('GET', '/api/v1/agents');
    assert.ok(!(list.agents ?? []).some((a) => a.name === 'viewer-forced'), 'the refused agent was not created');

    // The control: the same request from an operator's page goes through, so
    // the 403 above is the role, not a missing CSRF token.
    const opage = await octx.newPage();
    await devLogin(opage, 'olga@example.com', 'operator', 'Olga Operator');
    const accepted = await pageFetch(opage, 'POST', '/api/v1/agents', { name: 'operator-made', kind: 'AGENT_KIND_DATA' });
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
    assert.equal(accepted.body.agent.state, 'AGENT_STATE_DRAFT');
  } finally {
    await ctx.close();
    await octx.close();
  }
});

test('another user sees an agent change made through the API live, without a reload', async () => {
  const ctx = await newContext(browser, portal);
  try {
    const page = await ctx.newPage();
    // The stream's frames, to show the change came over /ws (not a poll).
    const frames = watchFrames(page);
    await devLogin(page, 'vera@example.com', 'viewer', 'Vera Viewer');
    await page.goto('/agents');
    await connectionOpen(page).waitFor({ timeout: 15_000 });
    await page.evaluate(() => {
      window.__e2eNoReload = true;
    });
    // The subscription is sent once the stream opens: give it a moment.
    await page.waitForTimeout(300);

    const name = 'live-seen';
    const created = await portal.api('POST', '/api/v1/agents', { name, kind: 'AGENT_KIND_DATA' });
    const id = created.agent.id;
    assert.equal(created.agent.state, 'AGENT_STATE_DRAFT');
    await portal.api('POST', `/api/v1/agents/${id}:provision`, {});
    const { state } = await waitAgent(portal, id, idleIn('AGENT_STATE_PROVISIONED'), 'PROVISIONED', 30_000);
    assert.equal(state, 'AGENT_STATE_PROVISIONED');

    // The agents table's row for the agent, showing it provisioned.
    await page.waitForFunction(
      (name) =>
        [...document.querySelectorAll('tr, [role="row"]')].some(
          (r) => r.textContent.includes(name) && /provisioned/i.test(r.textContent),
        ),
      name,
      { timeout: 15_000 },
    );
    assert.equal(await page.evaluate(() => window.__e2eNoReload), true, 'the page was not reloaded');
    const about = frames.filter((f) => f.includes(`agents/${id}`));
    assert.ok(about.length >= 2, `the stream brought the agent's events (frames naming agents/${id}: ${about.length})`);
    console.log(`live: the change reached the agents table, ${about.length} stream frames about the agent`);
    await screenshot(page, 'live-event');
    assert.deepEqual(ctx.problems, [], 'no page errors or console errors');
  } finally {
    await ctx.close();
  }
});
