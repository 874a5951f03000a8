// The catalog: apps (GET /api/v1/apps), and one app with every version and the measurements a
// version requires of the TD that runs it (GET /api/v1/apps/{name}), and where it is deployed.
import { get, enc } from './api.js';
import { h, pageLink, statusBadge, table, fields, when, hex, shortId } from './dom.js';

export async function catalogPage() {
  const apps = await get('/apps');
  return {
    title: 'Catalog',
    nodes: [
      h('h1', {}, 'Catalog'),
      apps.length === 0 ? h('p', { class: 'muted' }, 'No app has been published yet.') : table([
        ['App', (a) => pageLink(a.name, 'apps', a.name)],
        ['Description', (a) => a.description || ''],
        ['Owner', (a) => a.owner],
        ['Source', (a) => a.source_repo],
        ['Created', (a) => when(a.created_at)],
      ], apps, { id: 'apps' }),
    ],
  };
}

export async function appPage(name) {
  const [app, deployments] = await Promise.all([
    get('/apps/' + enc(name)),
    get('/deployments?limit=50&app_name=' + enc(name)),
  ]);
  const versions = (app.versions || []).slice().reverse();  // newest first
  return {
    title: 'App ' + app.name,
    nodes: [
      h('h1', {}, 'App ', h('span', { id: 'app-name' }, app.name)),
      h('div', { class: 'card' }, fields([
        ['Description', h('span', { id: 'app-description' }, app.description || '—')],
        ['Owner', app.owner + (app.owner_id ? ' (GitHub id ' + app.owner_id + ')' : '')],
        ['Source', app.source_repo],
        ['Created', when(app.created_at)],
      ])),
      h('h2', {}, 'Versions'),
      versions.length === 0 ? h('p', { class: 'muted' }, 'No version.') : table([
        ['Version', (v) => v.version],
        ['Image', (v) => h('span', { class: 'mono' }, v.image)],
        ['Measurements', (v) => measurements(v)],
        ['Node size', (v) => v.node_size || 'any'],
        ['Published', (v) => [when(v.published_at), h('div', { class: 'note' }, 'by ' + v.published_by)]],
      ], versions, { id: 'versions' }),
      h('p', { class: 'note' }, 'An agent runs a version only when its attested MRTD (and each pinned RTMR) equals these.'),
      h('h2', {}, 'Deployments'),
      deployments.length === 0 ? h('p', { class: 'muted' }, 'Not deployed yet.') : table([
        ['Deployment', (d) => pageLink(shortId(d.deployment_id), 'deployments', d.deployment_id)],
        ['Version', (d) => d.version],
        ['Agent', (d) => pageLink(shortId(d.agent_id), 'agents', d.agent_id)],
        ['Status', (d) => statusBadge(d.status)],
        ['Updated', (d) => when(d.updated_at)],
      ], deployments, { id: 'app-deployments' }),
    ],
  };
}

function measurements(v) {
  const rows = [['MRTD', v.mrtd]];
  (v.rtmrs || []).forEach((r, i) => rows.push(['RTMR' + i, r]));
  return fields(rows.map(([label, value]) => [label, value ? hex(value) : h('span', { class: 'muted' }, 'not pinned')]));
}
