// Deployments, newest first (GET /api/v1/deployments), and one deployment with its history
// (GET /api/v1/deployments/{id} and the deployments around it).
import { get, enc } from './api.js';
import { h, pageLink, statusBadge, table, fields, when, shortId } from './dom.js';

export async function deploymentsPage() {
  const deployments = await get('/deployments?limit=200');
  return {
    title: 'Deployments',
    nodes: [
      h('h1', {}, 'Deployments'),
      deployments.length === 0 ? h('p', { class: 'muted' }, 'Nothing has been deployed yet.') : table([
        ['Deployment', (d) => pageLink(shortId(d.deployment_id), 'deployments', d.deployment_id)],
        ['App', (d) => pageLink(d.app_name, 'apps', d.app_name)],
        ['Version', (d) => d.version],
        ['Agent', (d) => pageLink(shortId(d.agent_id), 'agents', d.agent_id)],
        ['Status', (d) => statusBadge(d.status)],
        ['Requested by', (d) => d.requested_by],
        ['Created', (d) => when(d.created_at)],
        ['Updated', (d) => when(d.updated_at)],
        ['Detail', (d) => d.detail || ''],
      ], deployments, { id: 'deployments' }),
      deployments.length === 200 ? h('p', { class: 'note' }, 'The 200 newest deployments.') : null,
    ],
  };
}

export async function deploymentPage(id) {
  const d = await get('/deployments/' + enc(id));
  // The agent's other deployments: the one this replaced, those that replaced it.
  const onAgent = await get('/deployments?limit=200&agent_id=' + enc(d.agent_id));
  const successors = onAgent.filter((o) => o.replaces === d.deployment_id);
  const steps = d.rollout_id
    ? (await get('/deployments?limit=200&app_name=' + enc(d.app_name))).filter((o) => o.rollout_id === d.rollout_id)
    : [];
  return {
    title: 'Deployment ' + d.deployment_id.slice(0, 8),
    nodes: [
      h('h1', {}, 'Deployment ', h('span', { class: 'mono' }, d.deployment_id), ' ', statusBadge(d.status)),
      h('div', { class: 'card' }, fields([
        ['App', [pageLink(d.app_name, 'apps', d.app_name), ' ' + d.version]],
        ['Image', h('span', { class: 'mono' }, d.image)],
        ['Agent', pageLink(d.agent_id, 'agents', d.agent_id)],
        ['Requested by', d.requested_by],
        ['Replaces', d.replaces ? pageLink(d.replaces, 'deployments', d.replaces) : 'none'],
        ['Rolling deploy', d.rollout_id ? d.rollout_id + ', step ' + d.rollout_step : 'no'],
      ])),
      h('h2', {}, 'History'),
      h('ol', { class: 'timeline', id: 'history' }, history(d, successors).map(([at, what]) =>
        h('li', {}, h('span', { class: 'when' }, when(at)), what))),
      h('p', { class: 'note' }, 'Every status the deployment took, as the control plane recorded it in the same ' +
        'transaction (docs/api.md, "Deployment object"), and the upgrades requested for its agent after it.'),
      steps.length > 1 ? [h('h2', {}, 'Steps of this rolling deploy'), table([
        ['Step', (s) => String(s.rollout_step)],
        ['Deployment', (s) => pageLink(shortId(s.deployment_id), 'deployments', s.deployment_id)],
        ['Agent', (s) => pageLink(shortId(s.agent_id), 'agents', s.agent_id)],
        ['Status', (s) => statusBadge(s.status)],
      ], steps.slice().sort((a, b) => a.rollout_step - b.rollout_step))] : null,
    ],
  };
}

// [[time, content]] oldest first: the recorded changes (the first is the request), and the
// upgrades requested after it. A CP without `history` gives the current status alone.
function history(d, successors) {
  const changes = Array.isArray(d.history) && d.history.length > 0
    ? d.history
    : [{ status: d.status, detail: d.detail, at: d.updated_at }];
  const events = changes.map((c, i) => [c.at, [statusBadge(c.status),
    i === 0 ? [' requested by ' + d.requested_by,
      d.replaces ? [' to replace ', pageLink(shortId(d.replaces), 'deployments', d.replaces)] : null] : null,
    c.detail ? ' ' + c.detail : '']]);
  for (const s of successors) {
    events.push([s.created_at, ['upgrade requested: ', pageLink(shortId(s.deployment_id), 'deployments', s.deployment_id),
      ' (' + s.app_name + ' ' + s.version + ', now ' + s.status + ')']]);
  }
  // Stable: changes recorded at the same second keep their order.
  return events.sort((a, b) => String(a[0]).localeCompare(String(b[0])));
}
