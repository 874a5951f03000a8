// The console's router: the page is chosen by the URL's fragment (#/, #/agents/ID, #/apps,
// #/apps/NAME, #/deployments, #/deployments/ID, #/me, #/sign-in), so the control plane serves one shell at /
// and a deep link never reaches the server's routes. Each page renders into <main> from the API;
// the header's #session slot shows who is signed in (session.js); see docs/console.md.
import { health } from './api.js';
import { h, show, errorBox } from './dom.js';
import { fleetPage } from './fleet.js';
import { agentPage } from './agent.js';
import { catalogPage, appPage } from './catalog.js';
import { deploymentsPage, deploymentPage } from './deployments.js';
import { mePage } from './me.js';
import { renderSession, reload, signInPage } from './session.js';

const ROUTES = [
  [/^$/, 'fleet', () => fleetPage()],
  [/^agents$/, 'fleet', () => fleetPage()],
  [/^agents\/([^/]+)$/, 'fleet', (id) => agentPage(id)],
  [/^apps$/, 'catalog', () => catalogPage()],
  [/^apps\/([^/]+)$/, 'catalog', (name) => appPage(name)],
  [/^deployments$/, 'deployments', () => deploymentsPage()],
  [/^deployments\/([^/]+)$/, 'deployments', (id) => deploymentPage(id)],
  [/^me$/, 'me', () => mePage()],
  [/^sign-in$/, 'sign-in', () => signInPage(() => header())],
];

let generation = 0;

async function render() {
  const main = document.getElementById('main');
  const path = decodeHashPath(location.hash);
  const mine = ++generation;
  let page = null;
  let params = [];
  for (const [pattern, section, make] of ROUTES) {
    const m = path === null ? null : pattern.exec(path);
    if (m) {
      page = { section, make };
      params = m.slice(1).map(decodeURIComponent);
      break;
    }
  }
  for (const a of document.querySelectorAll('nav a[data-page]')) {
    a.classList.toggle('current', page !== null && a.dataset.page === page.section);
  }
  if (page === null) {
    document.title = 'Not found · easyenclave';
    show(main, h('h1', {}, 'Page not found'), h('p', {}, 'No console page at this address. ', h('a', { href: '#/' }, 'Back to the fleet')));
    return;
  }
  main.setAttribute('aria-busy', 'true');
  try {
    const { title, nodes } = await page.make(...params);
    if (mine !== generation) return;  // the reader moved on while this page loaded
    document.title = title + ' · easyenclave';
    show(main, nodes);
  } catch (e) {
    if (mine !== generation) return;
    document.title = 'Error · easyenclave';
    show(main, errorBox(e));
  } finally {
    if (mine === generation) main.removeAttribute('aria-busy');
  }
}

// "#/apps/hello" -> "apps/hello"; null when a segment's escape is malformed.
function decodeHashPath(hash) {
  const raw = hash.replace(/^#\/?/, '').replace(/\/+$/, '');
  try {
    raw.split('/').forEach(decodeURIComponent);
  } catch (e) {
    return null;
  }
  return raw;
}

async function footer() {
  const el = document.getElementById('footer');
  try {
    const cp = await health();
    const mode = [cp.dev ? 'development mode' : null, cp.attested ? 'attested control plane' : 'control plane not attested'];
    show(el, 'easyenclave control plane ' + cp.version + ' · ' + mode.filter(Boolean).join(' · ') +
      ' · up ' + Math.round(cp.uptime_seconds / 60) + ' min');
  } catch (e) {
    show(el, 'control plane health unavailable');
  }
}

// The header first, so a page that depends on the session finds it loaded (session() is shared).
async function header() {
  try {
    await renderSession(() => render());
  } catch (e) {
    show(document.getElementById('session'), 'Public view');
  }
}

window.addEventListener('hashchange', render);
document.getElementById('refresh').addEventListener('click', async () => {
  reload();
  header();
  render();
  footer();
});
header();
render();
footer();
