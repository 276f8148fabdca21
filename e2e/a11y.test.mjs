// Accessibility (axe-core) and screenshots of every page: the signed-out
// shell (the login links), the development login form, the dashboard, the
// agents table and cards, an agent, events, audit, the admin pages, and the
// dialogs an operator opens most (new agent, a bulk action), in both themes,
// at a desktop and a mobile width. Serious or
// critical axe violations fail, listed; so does a page wider than a phone at
// 390 px (it would scroll sideways).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { KnownBugs, THEMES, VIEWPORTS, axeProblems, connectionOpen, overflowProblems, settled, themedContext, waitAgent } from './checks.mjs';
import { devLogin, screenshot, useBrowser, usePortal } from './portal.mjs';

const portal = usePortal();
const browser = useBrowser();

// Known product bugs, reported and left to the UI's owners: each KNOWN entry
// takes the matching nodes out of an axe violation, each KNOWN_OVERFLOW entry
// (by the element that sticks out) a culprit of a too-wide page, and says so
// in the test's output; anything else serious, critical or too wide fails.
// Remove an entry once it is fixed (the output says when it no longer occurs).
const KNOWN = [];
const KNOWN_OVERFLOW = [];
const known = new KnownBugs({ axe: KNOWN, overflow: KNOWN_OVERFLOW }, 'KNOWN in e2e/a11y.test.mjs');

// Agents to show: one in DRAFT, one PROVISIONED (with its history).
let agentId;
before(async () => {
  await portal.started;
  await portal.api('POST', '/api/v1/agents', { name: 'a11y-draft', kind: 'AGENT_KIND_MEMORY', labels: { team: 'e2e', customer: 'acme' } });
  const { agent } = await portal.api('POST', '/api/v1/agents', {
    name: 'a11y-provisioned',
    displayName: 'A11y Provisioned',
    kind: 'AGENT_KIND_DATA',
    labels: { team: 'e2e' },
  });
  agentId = agent.id;
  await portal.api('POST', `/api/v1/agents/${agentId}:provision`, {});
  await waitAgent(portal, agentId, (a) => a.state === 'AGENT_STATE_PROVISIONED', 'PROVISIONED', 30_000);
});
after(() => known.report());

for (const themeName of THEMES) {
  for (const [vpName, viewport] of Object.entries(VIEWPORTS)) {
    test(`axe and screenshots: ${themeName} theme, ${vpName} (${viewport.width}×${viewport.height})`, async () => {
      const ctx = await themedContext(browser, portal, themeName, vpName);
      const found = [];
      const suffix = `${themeName}-${vpName}`;
      try {
        const page = await ctx.newPage();
        // check: axe, the phone width (on a phone), and a screenshot (named shot-<suffix>).
        const check = async (name, shot = name) => {
          await settled(page);
          found.push(...(await axeProblems(page, `${name} (${suffix})`, { known })));
          if (vpName === 'mobile') {
            found.push(...(await overflowProblems(page, `${name} (${suffix})`, { known })));
          }
          await screenshot(page, `${shot}-${suffix}`);
        };

        // Signed out: the shell offers the login links.
        await page.goto('/');
        await page.getByRole('link', { name: /development login/i }).waitFor();
        assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), themeName);
        await check('signed-out shell', 'login');

        // The development login form (server-rendered; it has no themes).
        await page.goto('/auth/dev');
        await page.getByRole('button', { name: /log in/i }).waitFor();
        found.push(...(await axeProblems(page, `development login form (${suffix})`, { known })));
        await screenshot(page, `dev-login-${suffix}`);

        // Signed in: the shell.
        await devLogin(page, 'ada@example.com', 'admin', 'Ada Admin');
        // (attached, not visible: a narrow layout may tuck the principal into a menu)
        await page.getByText('Ada Admin').or(page.getByText('ada@example.com')).first().waitFor({ state: 'attached' });
        await connectionOpen(page).waitFor();
        assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), themeName);
        await check('shell');

        // Every page.
        const pages = [
          { name: 'dashboard', path: '/', heading: /^dashboard$/i },
          { name: 'agents', path: '/agents?view=table', heading: /^agents$/i, ready: 'a11y-provisioned' },
          { name: 'agents-cards', path: '/agents?view=cards', heading: /^agents$/i, ready: 'a11y-provisioned' },
          { name: 'agent-detail', path: `/agents/${agentId}`, heading: /A11y Provisioned|a11y-provisioned/ },
          { name: 'events', path: '/events', heading: /^events$/i },
          { name: 'audit', path: '/audit', heading: /^audit$/i },
          { name: 'users', path: '/admin/users', heading: /^users$/i },
          { name: 'tokens', path: '/admin/tokens', heading: /^api tokens$/i },
          { name: 'grants', path: '/admin/grants', heading: /^grants$/i },
        ];
        for (const p of pages) {
          await page.goto(p.path);
          await connectionOpen(page).waitFor();
          await page.getByRole('heading', { level: 1, name: p.heading }).waitFor({ timeout: 15_000 });
          if (p.ready) {
            await page.getByText(p.ready).first().waitFor();
          }
          await page.waitForLoadState('networkidle').catch(() => {});
          await check(`${p.name} page`);
        }

        // The dialogs: a new agent, and a bulk action's confirmation.
        await page.goto('/agents?view=table');
        await page.getByText('a11y-provisioned').first().waitFor();
        await page.getByRole('button', { name: 'New agent' }).click();
        await page.getByRole('dialog', { name: 'New agent' }).waitFor();
        await check('new-agent dialog');
        await page.keyboard.press('Escape');
        await page.getByLabel('Select all agents on this page').check();
        await page.getByRole('toolbar', { name: 'Bulk actions' }).getByRole('button', { name: /^Revoke/ }).click();
        await page.getByTestId('bulk-preview').waitFor();
        await check('bulk dialog');
        await page.keyboard.press('Escape');

        if (found.length > 0) {
          assert.fail(`serious or critical accessibility violations, or a phone layout wider than the phone:\n${found.join('\n')}`);
        }
        assert.deepEqual(ctx.problems, [], 'no page errors or console errors');
      } finally {
        await ctx.close();
      }
    });
  }
}
