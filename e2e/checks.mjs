// The checks the browser tests share: the themes and viewports every page is
// shown in, axe-core and the phone-width overflow check (with the known
// product bugs that do not fail a run), waiting for a page's fonts, the event
// stream's state, and waiting for an agent through the REST API.
//
//   for (const theme of THEMES) {
//     for (const vpName of Object.keys(VIEWPORTS)) {
//       const ctx = await themedContext(browser, portal, theme, vpName);
//       …
//       await settled(page);
//       found.push(...(await axeProblems(page, label)), ...(await overflowProblems(page, label)));
//   await waitAgent(portal, id, idleIn('AGENT_STATE_RUNNING'), 'running', 60_000);
//
// Every wait is bounded.
import AxeBuilder from '@axe-core/playwright';
import { newContext, sleep, withTimeout } from './portal.mjs';

/** The sizes every page is checked at: a laptop, and a phone (390 px wide). */
export const VIEWPORTS = {
  desktop: { width: 1280, height: 800 },
  mobile: { width: 390, height: 844 },
};

/** The UI's two themes (also the system colour schemes). */
export const THEMES = ['dark', 'light'];

/**
 * themedContext opens a context (newContext: its ctx.problems recorded) at
 * the named viewport of VIEWPORTS (a touch device for 'mobile') with the
 * theme both as the system colour scheme and as the stored choice
 * (localStorage 'waooaw-theme'), so every page opens in it.
 */
export async function themedContext(browser, portal, theme, viewportName) {
  const viewport = VIEWPORTS[viewportName];
  if (!viewport) {
    throw new Error(`themedContext: no viewport "${viewportName}" (${Object.keys(VIEWPORTS).join(', ')})`);
  }
  const ctx = await newContext(browser, portal, { colorScheme: theme, viewport, isMobile: viewportName === 'mobile' });
  await ctx.addInitScript((t) => {
    try {
      localStorage.setItem('waooaw-theme', t);
    } catch {
      // the login pages' opaque origins have no storage
    }
  }, theme);
  return ctx;
}

/** settled waits for the page's fonts, so that layout, contrast and screenshots are final. */
export async function settled(page) {
  await page.evaluate(() => document.fonts.ready.then(() => undefined));
}

/** connectionOpen is the header's event-stream indicator in the open state (by its name or its text). */
export function connectionOpen(page) {
  return page
    .getByRole('status', { name: /\bopen\b/i })
    .or(page.getByRole('status').filter({ hasText: /\bopen\b/i }))
    .first();
}

/** watchFrames records the text of the WebSocket frames the page receives, from now on. */
export function watchFrames(page) {
  const frames = [];
  page.on('websocket', (ws) => {
    ws.on('framereceived', (f) => frames.push(typeof f.payload === 'string' ? f.payload : f.payload.toString()));
  });
  return frames;
}

/**
 * KnownBugs holds reported product bugs that must not fail a run, until
 * they are fixed:
 *   axe:      { id, why, node(n) }  the nodes of violation `id` that node(n)
 *             matches are taken out of it (and counted);
 *   overflow: { element, why }      a culprit of a too-wide page that the
 *             RegExp `element` matches is left out (and logged).
 * Pass it to axeProblems and overflowProblems as `known`, and call report()
 * in an after hook: it prints what was let through, and the entries that no
 * longer occur (to be removed from `where`).
 */
export class KnownBugs {
  constructor({ axe = [], overflow = [] } = {}, where = 'the test file') {
    this.axe = axe;
    this.overflow = overflow;
    this.where = where;
    this.seen = new Map(axe.map((k) => [k, 0]));
    this.axeRuns = 0;
  }

  /** axeNodes is violation v's nodes less the known ones. */
  axeNodes(v) {
    let nodes = v.nodes;
    for (const k of this.axe.filter((k) => k.id === v.id)) {
      const left = nodes.filter((n) => !k.node(n));
      this.seen.set(k, this.seen.get(k) + nodes.length - left.length);
      nodes = left;
    }
    return nodes;
  }

  /** overflowCulprits is the culprits less the known ones, which it logs. */
  overflowCulprits(culprits, label) {
    for (const k of this.overflow.filter((k) => culprits.some((c) => k.element.test(c)))) {
      console.log(`KNOWN layout bug, not failing the test (${label}): ${k.why}`);
    }
    return culprits.filter((c) => !this.overflow.some((k) => k.element.test(c)));
  }

  report() {
    if (this.axeRuns === 0) {
      return;
    }
    for (const [k, n] of this.seen) {
      console.log(
        n > 0
          ? `KNOWN accessibility bug, not failing the test (${n} nodes): ${k.id}: ${k.why}`
          : `the known ${k.id} violation no longer occurs: remove it from ${this.where} (${k.why})`,
      );
    }
  }
}

/**
 * axeProblems runs axe-core on the page (or only on the elements the
 * `include` selector picks) and returns its serious and critical violations
 * as readable strings, each starting with label and naming up to five of its
 * nodes; none: []. Nodes matched by `known` (a KnownBugs) are left out.
 */
export async function axeProblems(page, label, { include, known } = {}) {
  let builder = new AxeBuilder({ page });
  if (include) {
    builder = builder.include(include);
  }
  const results = await builder.analyze();
  if (known) {
    known.axeRuns++;
  }
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ ...v, nodes: known ? known.axeNodes(v) : v.nodes }))
    .filter((v) => v.nodes.length > 0)
    .map(
      (v) =>
        `${label}: [${v.impact}] ${v.id}: ${v.help} (${v.helpUrl})\n` +
        v.nodes
          .slice(0, 5)
          .map((n) => `    ${n.target.join(' ')}: ${n.failureSummary?.replace(/\n/g, ' ')}`)
          .join('\n'),
    );
}

/**
 * overflowProblems checks that the page is no wider than its viewport (a
 * page that scrolls sideways on a phone): [] if it fits, else one string
 * starting with label, with the widths and the culprits — the elements past
 * the right edge whose removal makes the page fit, and none of whose
 * descendants' removal does. Culprits matched by `known` (a KnownBugs) are
 * left out (and logged); a page too wide only because of them passes.
 */
export async function overflowProblems(page, label, { known } = {}) {
  const r = await page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const wide = document.documentElement.scrollWidth;
    const out = [];
    if (wide > width + 1) {
      const fixers = [];
      for (const el of [...document.querySelectorAll('body *')].slice(0, 3000)) {
        const rc = el.getBoundingClientRect();
        if (rc.right <= width + 1) {
          continue;
        }
        const before = el.style.display;
        el.style.display = 'none';
        const fits = document.documentElement.scrollWidth <= width + 1;
        el.style.display = before;
        if (fits) {
          fixers.push({ el, rc });
        }
      }
      for (const f of fixers) {
        if (!fixers.some((g) => g !== f && f.el.contains(g.el))) {
          out.push(`${f.el.tagName.toLowerCase()}${[...f.el.classList].map((c) => `.${c}`).join('')} (right edge ${Math.round(f.rc.right)})`);
        }
      }
      if (out.length === 0) {
        out.push('several elements together');
      }
    }
    return { width, wide, culprits: out };
  });
  if (r.wide <= r.width + 1) {
    return [];
  }
  const left = known ? known.overflowCulprits(r.culprits, label) : r.culprits;
  if (left.length === 0) {
    return [];
  }
  return [`${label}: the page is ${r.wide} px wide in a ${r.width} px viewport, because of: ${left.join(', ')}`];
}

/** idle: no operation is pending on the agent (a predicate for waitAgent). */
export const idle = (agent) => !agent.pendingOperation;

/** idleIn(state): the agent is in state with no operation pending (a predicate for waitAgent). */
export const idleIn = (state) => (agent) => agent.state === state && !agent.pendingOperation;

/**
 * waitAgent polls GET /api/v1/agents/{id} (with the portal's admin token)
 * until predicate(agent) is true, and returns that agent. It fails after ms
 * with `what` and the agent's last state; a predicate that throws fails it
 * at once (to stop waiting for what can no longer happen).
 */
export async function waitAgent(portal, id, predicate, what, ms = 30_000) {
  const waiting = `waiting for agent ${id}: ${what}`;
  let last;
  let over = false;
  try {
    return await withTimeout(
      (async () => {
        while (!over) {
          last = (await portal.api('GET', `/api/v1/agents/${id}`)).agent;
          if (predicate(last)) {
            return last;
          }
          await sleep(100);
        }
      })(),
      ms,
      waiting,
    );
  } catch (err) {
    if (last && err.message === `${waiting}: timed out after ${ms} ms`) {
      const pending = last.pendingOperation ? `, ${JSON.stringify(last.pendingOperation)} pending` : '';
      err.message = `waiting for agent ${id} (${last.name}): ${what}: timed out after ${ms} ms (last seen ${last.state}${pending})`;
    }
    throw err;
  } finally {
    over = true; // stops the polling once it has timed out
  }
}
