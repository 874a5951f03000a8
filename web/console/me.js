// "My agents" (#/me): what the signed-in person's GitHub identity owns, their account and every
// organisation GitHub listed at sign-in (GET /api/v1/me/agents, /api/v1/me/deployments; the
// session cookie goes along, docs/api.md "Owner self-service").
import { getSignedIn } from './api.js';
import { h, pageLink, statusBadge, badge, table, fields, when, duration, shortId } from './dom.js';
import { session, hasGithubIdentity } from './session.js';

export async function mePage() {
  const s = await session();
  if (!hasGithubIdentity(s)) {
    return {
      title: 'My agents',
      nodes: [
        h('h1', {}, 'My agents'),
        h('p', { class: 'muted', id: 'me-signed-out' }, s.me
          ? 'This session (the admin password) has no GitHub identity, so it owns no agent. Sign in with GitHub to see yours.'
          : 'Sign in with GitHub to see the agents you and your organisations own.'),
        !s.me && s.methods.github ? h('p', {}, h('a', { href: '/auth/github' }, 'Sign in with GitHub')) : null,
      ],
    };
  }
  const [agents, deployments] = await Promise.all([
    getSignedIn('/me/agents'),
    getSignedIn('/me/deployments?limit=100'),
  ]);
  const orgs = Array.isArray(s.me.orgs) ? s.me.orgs.map((o) => o.login) : [];
  return {
    title: 'My agents',
    nodes: [
      h('h1', {}, 'My agents'),
      h('div', { class: 'card' }, fields([
        ['Signed in as', h('span', { id: 'me-login' }, s.me.login)],
        ['Organisations', orgs.length ? orgs.join(', ') : 'none listed by GitHub'],
        ['Session ends', when(s.me.expires_at)],
      ])),
      h('p', { class: 'note' }, 'Agents whose owner is your GitHub account or one of these organisations ' +
        '(as GitHub listed them when you signed in). Open one to read its recent logs.'),
      agents.length === 0 ? h('p', { class: 'muted', id: 'my-agents-none' }, 'You own no agent yet.') : table([
        ['VM name', (a) => pageLink(a.vm_name, 'agents', a.agent_id)],
        ['Status', (a) => statusBadge(a.status)],
        ['Owner', (a) => [a.owner, a.owner_id ? '' : h('span', { class: 'note' }, ' (claimed)')]],
        ['Node size', (a) => a.node_size],
        ['Last heartbeat', (a) => a.last_heartbeat_at ? duration(a.seconds_since_heartbeat) + ' ago' : '—'],
        ['Verified', (a) => a.verified ? badge('verified', 'ok') : h('span', {}, badge('unverified', 'bad'), ' ', a.unverified_reason || '')],
        ['Health', (a) => statusBadge(a.health)],
        ['Deployment', (a) => a.deployment_id ? pageLink(shortId(a.deployment_id), 'deployments', a.deployment_id) : '—'],
      ], agents, { id: 'my-agents' }),
      h('h2', {}, 'Deployments on my agents'),
      deployments.length === 0 ? h('p', { class: 'muted' }, 'None yet.') : table([
        ['Deployment', (d) => pageLink(shortId(d.deployment_id), 'deployments', d.deployment_id)],
        ['App', (d) => pageLink(d.app_name, 'apps', d.app_name)],
        ['Version', (d) => d.version],
        ['Agent', (d) => pageLink(shortId(d.agent_id), 'agents', d.agent_id)],
        ['Status', (d) => statusBadge(d.status)],
        ['Updated', (d) => when(d.updated_at)],
        ['Detail', (d) => d.detail || ''],
      ], deployments, { id: 'my-deployments' }),
    ],
  };
}
