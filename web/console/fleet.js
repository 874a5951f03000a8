// The fleet: every agent with its status, owner, node size, datacenter, last heartbeat,
// verification and TCB status (GET /api/v1/agents, public).
import { get } from './api.js';
import { h, pageLink, statusBadge, badge, table, when, duration, shortId } from './dom.js';

const LIMIT = 1000;

export async function fleetPage() {
  const agents = await get('/agents?limit=' + LIMIT);
  const counts = { idle: 0, deployed: 0, down: 0, unverified: 0 };
  for (const a of agents) if (Object.prototype.hasOwnProperty.call(counts, a.status)) counts[a.status] += 1;
  const summary = h('div', { class: 'summary' },
    h('div', { class: 'count' }, h('b', { 'data-count': 'agents' }, String(agents.length)), 'agents'),
    Object.entries(counts).map(([k, n]) => h('div', { class: 'count' }, h('b', { 'data-count': k }, String(n)), k)));
  const rows = table([
    ['VM name', (a) => pageLink(a.vm_name, 'agents', a.agent_id)],
    ['Status', (a) => statusBadge(a.status)],
    ['Owner', (a) => [a.owner || '—', a.owner && !a.owner_id ? h('span', { class: 'note', title: 'owner claimed, not proven by a bootstrap token' }, ' (claimed)') : null]],
    ['Node size', (a) => a.node_size],
    ['Datacenter', (a) => a.datacenter],
    ['Last heartbeat', (a) => a.last_heartbeat_at
      ? h('span', { title: when(a.last_heartbeat_at) }, duration(a.seconds_since_heartbeat) + ' ago')
      : '—'],
    ['Verified', (a) => a.verified ? badge('verified', 'ok') : h('span', {}, badge('unverified', 'bad'), ' ', a.unverified_reason || '')],
    ['TCB', (a) => statusBadge(a.tcb_status)],
    ['Health', (a) => statusBadge(a.health)],
    ['Deployment', (a) => a.deployment_id ? pageLink(shortId(a.deployment_id), 'deployments', a.deployment_id) : '—'],
  ], agents, { id: 'agents' });
  return {
    title: 'Fleet',
    nodes: [
      h('h1', {}, 'Fleet'),
      summary,
      agents.length === 0 ? h('p', { class: 'muted' }, 'No agent has registered yet.') : rows,
      agents.length === LIMIT ? h('p', { class: 'note' }, 'The first ' + LIMIT + ' agents, by first registration.') : null,
    ],
  };
}
