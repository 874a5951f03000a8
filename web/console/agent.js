// One agent: its record, each check of its admission as far as public data shows it, its last
// accepted attestation, and the deployments it ran (GET /api/v1/agents/{id}, .../attestation,
// /trusted-mrtds, /deployments?agent_id=, all public); to its owner (or an admin) signed in,
// its recent logs (GET /api/v1/agents/{id}/logs, with the session cookie).
import { get, getSignedIn, enc } from './api.js';
import { h, pageLink, statusBadge, badge, table, fields, when, duration, hex, shortId } from './dom.js';
import { session, hasGithubIdentity } from './session.js';

export async function agentPage(id) {
  const [agent, att, trusted, deployments] = await Promise.all([
    get('/agents/' + enc(id)),
    get('/agents/' + enc(id) + '/attestation'),
    get('/trusted-mrtds'),
    get('/deployments?limit=50&agent_id=' + enc(id)),
  ]);
  const current = agent.deployment_id ? deployments.find((d) => d.deployment_id === agent.deployment_id) : null;
  const checks = await agentChecks(agent, att, trusted, current);
  const logs = await logsSection(agent.agent_id);
  return {
    title: 'Agent ' + agent.vm_name,
    nodes: [
      h('h1', {}, 'Agent ', h('span', { id: 'agent-name' }, agent.vm_name), ' ', statusBadge(agent.status)),
      h('div', { class: 'card' }, fields([
        ['Agent id', h('span', { class: 'mono' }, agent.agent_id)],
        ['Owner', [agent.owner || '—', agent.owner ? (agent.owner_id ? ' (proven, GitHub id ' + agent.owner_id + ')' : ' (claimed)') : '']],
        ['Node size', agent.node_size],
        ['Datacenter', agent.datacenter],
        ['Health', statusBadge(agent.health)],
        ['Hostname', agent.hostname || '—'],
        ['Registered', when(agent.registered_at) + (agent.last_registered_at && agent.last_registered_at !== agent.registered_at ? ', last ' + when(agent.last_registered_at) : '')],
        ['Last heartbeat', agent.last_heartbeat_at ? when(agent.last_heartbeat_at) + ' (' + duration(agent.seconds_since_heartbeat) + ' ago)' : '—'],
        ['Reported', (agent.reported_status || '—') + (agent.reported_digest ? ' ' + agent.reported_digest : '')],
        ['Deployment', agent.deployment_id ? pageLink(agent.deployment_id, 'deployments', agent.deployment_id) : 'none'],
      ])),
      h('h2', {}, 'Checks'),
      table([
        ['Check', (c) => c.name],
        ['Result', (c) => badge(c.result, c.kind)],
        ['Detail', (c) => c.detail],
      ], checks, { id: 'checks' }),
      h('p', { class: 'note' }, 'The control plane ran these checks when it admitted the agent (docs/api.md, "Attestation binding"); ' +
        'the key binding is computed again here, in your browser, from the public record. ' +
        'To check the quote itself against Intel\'s root, run `ee verify ' + agent.agent_id + '`.'),
      h('h2', {}, 'Attestation record'),
      h('div', { class: 'card', id: 'attestation' }, fields([
        ['Verified', att.verified ? badge('verified', 'ok') : h('span', {}, badge('unverified', 'bad'), ' ', att.unverified_reason || '')],
        ['Appraised by', att.appraised_by || '—'],
        ['Appraised at', when(att.appraised_at)],
        ['TCB status', statusBadge(att.tcb_status)],
        ['TCB date', when(att.tcb_date)],
        ['Advisories', att.advisory_ids && att.advisory_ids.length ? att.advisory_ids.join(', ') : 'none'],
        ['MRTD', hex(att.mrtd)],
        ...(att.rtmrs || []).map((r, i) => ['RTMR' + i, hex(r)]),
        ['Report data', hex(att.report_data)],
        ['Public key', hex(att.public_key)],
      ])),
      h('h2', {}, 'Deployments on this agent'),
      deployments.length === 0 ? h('p', { class: 'muted' }, 'None yet.') : table([
        ['Deployment', (d) => pageLink(shortId(d.deployment_id), 'deployments', d.deployment_id)],
        ['App', (d) => pageLink(d.app_name + ' ' + d.version, 'apps', d.app_name)],
        ['Status', (d) => statusBadge(d.status)],
        ['Created', (d) => when(d.created_at)],
        ['Updated', (d) => when(d.updated_at)],
        ['Detail', (d) => d.detail || ''],
      ], deployments, { id: 'agent-deployments' }),
      logs,
    ],
  };
}

const LOG_LINES = 200;

// The agent's recent logs when the signed-in person may read them (an admin session, or an owner
// session whose /me/agents lists the agent), else null. The lines come from the agent, so they
// are untrusted: they reach the page only as one text node (textContent), never as markup.
async function logsSection(agentId) {
  const s = await session();
  if (!s.me) return null;
  let mayRead = Boolean(s.me.admin);
  if (!mayRead && hasGithubIdentity(s)) {
    try {
      mayRead = (await getSignedIn('/me/agents')).some((a) => a.agent_id === agentId);
    } catch (e) {
      mayRead = false;
    }
  }
  if (!mayRead) return null;
  const heading = h('h2', {}, 'Recent logs');
  let answer;
  try {
    answer = await getSignedIn('/agents/' + enc(agentId) + '/logs?lines=' + LOG_LINES);
  } catch (e) {
    return [heading, h('p', { class: 'error', id: 'agent-logs-error' },
      'The logs could not be read: ' + e.message + (e.code ? ' (' + e.code + ')' : ''))];
  }
  const lines = Array.isArray(answer.lines) ? answer.lines : [];
  if (lines.length === 0) return [heading, h('p', { class: 'muted', id: 'agent-logs-empty' }, 'No log line yet.')];
  const pre = h('pre', { class: 'logs', id: 'agent-logs' });
  pre.textContent = lines.map((l) => when(l.at) + '  ' + String(l.source) + '  ' + String(l.text)).join('\n');
  return [
    heading,
    h('p', { class: 'note' }, 'The last ' + lines.length + ' lines the agent kept (agent, tunnel and workload output)' +
      (answer.dropped ? '; ' + answer.dropped + ' older lines were dropped by its buffer' : '') + '. Refresh to read them again.'),
    pre,
  ];
}

// [{name, result, kind, detail}] from the public record.
async function agentChecks(agent, att, trusted, current) {
  const out = [];
  const add = (name, result, kind, detail) => out.push({ name, result, kind, detail });

  add('Evidence appraised', att.appraised_by ? 'pass' : 'fail', att.appraised_by ? 'ok' : 'bad',
    att.appraised_by ? appraiser(att.appraised_by) + ' at ' + when(att.appraised_at) : 'no accepted evidence on record');

  const listed = trusted.filter((m) => m.type === 'agent' && m.mrtd === att.mrtd && (m.node_size === '' || m.node_size === agent.node_size));
  if (listed.length) {
    add('MRTD trusted', 'pass', 'ok', 'in the trusted list' + (listed[0].note ? ' (' + listed[0].note + ')' : ''));
  } else if (trusted.length === 0) {
    add('MRTD trusted', 'no list', 'warn', 'the control plane lists no trusted MRTD (a development CP then trusts every MRTD)');
  } else {
    add('MRTD trusted', 'not listed', 'bad', 'the MRTD is not in the trusted list for node size ' + agent.node_size);
  }

  const tcbOk = att.tcb_status === 'UpToDate';
  add('TCB status', att.tcb_status || '—', tcbOk ? 'ok' : 'warn',
    (att.tcb_date ? 'TCB date ' + when(att.tcb_date) : 'no TCB date') +
    (att.advisory_ids && att.advisory_ids.length ? '; advisories ' + att.advisory_ids.join(', ') : ''));

  const binding = await keyBinding(att.public_key, att.report_data);
  add('Key bound to the quote', binding.result, binding.kind, binding.detail);

  add('Policy verdict', agent.verified ? 'admitted' : 'refused', agent.verified ? 'ok' : 'bad',
    agent.verified ? 'verified by the control plane\'s policy' : (agent.unverified_reason || 'not verified'));

  const stale = agent.last_heartbeat_at === null || agent.last_heartbeat_at === undefined;
  add('Heartbeat', stale ? 'none' : duration(agent.seconds_since_heartbeat) + ' ago', stale ? 'warn' : 'ok',
    stale ? 'no heartbeat yet' : 'last signed heartbeat ' + when(agent.last_heartbeat_at));

  if (current) {
    const expected = (current.image.split('@')[1] || '');
    const same = agent.reported_digest === expected;
    add('Image digest', same ? 'pass' : (agent.reported_digest ? 'mismatch' : 'not reported'), same ? 'ok' : 'warn',
      'catalog ' + expected + (agent.reported_digest && !same ? ', agent reports ' + agent.reported_digest : ''));
  }
  return out;
}

function appraiser(name) {
  if (name === 'local_dcap') return 'quote verified by the control plane (DCAP)';
  if (name === 'intel_trust_authority') return 'Intel Trust Authority token';
  return name;
}

// REPORTDATA[32..64) must be SHA-256 of the DER public key (docs/api.md, "Attestation binding").
async function keyBinding(publicKey, reportData) {
  if (!publicKey) return { result: 'no key', kind: 'warn', detail: 'a legacy agent: no public key on record' };
  if (!reportData || reportData.length !== 128) return { result: 'no report data', kind: 'warn', detail: 'no report data on record' };
  if (!(window.crypto && window.crypto.subtle)) {
    return { result: 'not checked here', kind: 'none', detail: 'this browser offers no SHA-256 outside a secure context (HTTPS)' };
  }
  let der;
  try {
    der = Uint8Array.from(atob(publicKey), (c) => c.charCodeAt(0));
  } catch (e) {
    return { result: 'fail', kind: 'bad', detail: 'the public key is not base64' };
  }
  const digest = new Uint8Array(await window.crypto.subtle.digest('SHA-256', der));
  const hexDigest = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
  const bound = reportData.slice(64).toLowerCase();
  return hexDigest === bound
    ? { result: 'pass', kind: 'ok', detail: 'report data bytes 32-64 = SHA-256(public key) = ' + hexDigest }
    : { result: 'fail', kind: 'bad', detail: 'report data bytes 32-64 are ' + bound + ', SHA-256(public key) is ' + hexDigest };
}
