// Who is signed in, for the header's #session slot, the "My agents" page and an owned agent's
// logs. The session itself is the CP's `ee_session` cookie (Secure, HttpOnly, SameSite=Lax): the
// browser keeps it and sends it on same-origin calls; no script can read it, and nothing here
// stores any credential. Signing in is a top-level navigation to /auth/github (so the CP's state
// cookie is set and GitHub's redirects are followed), or the admin password on #/sign-in (a
// same-origin POST whose answer sets the cookie); signing out is a same-origin POST.
import { authMethods, authMe, signOut, passwordSignIn } from './api.js';
import { h, show } from './dom.js';

let loading = null;

/**
 * {methods, me, problem}: the sign-in methods the CP offers (GET /auth/methods), the signed-in
 * session (GET /auth/me; null when nobody is) and a failure to find out (null, or ApiError).
 * Loaded once and shared until reload().
 */
export function session() {
  if (loading === null) loading = load();
  return loading;
}

/** Forgets what session() read, so the next call asks the CP again. */
export function reload() {
  loading = null;
  return session();
}

/** True when the session acts for a GitHub account (owner self-service needs one). */
export function hasGithubIdentity(s) {
  return Boolean(s.me && typeof s.me.login === 'string' && s.me.login !== '');
}

async function load() {
  let methods = { password: false, github: false, admin_token: false };
  let me = null;
  let problem = null;
  try {
    methods = await authMethods();
  } catch (e) {
    problem = e;
  }
  // No way in, no session to ask about (and no 401 in the browser's log for nothing).
  if (methods.github || methods.password) {
    try {
      me = await authMe();
    } catch (e) {
      if (e.status !== 401) problem = e;
    }
  }
  return { methods, me, problem };
}

/**
 * Fills the header: "Sign in with GitHub", or who is signed in and "Sign out"; shows the
 * "My agents" link to a person with a GitHub identity. `changed` runs after signing out.
 */
export async function renderSession(changed) {
  const slot = document.getElementById('session');
  const nav = document.getElementById('nav-me');
  const s = await session();
  nav.hidden = !hasGithubIdentity(s);
  if (s.me) {
    const who = s.me.login || 'admin';
    const out = h('button', { type: 'button', id: 'sign-out' }, 'Sign out');
    out.addEventListener('click', async () => {
      out.disabled = true;
      try {
        await signOut();
      } catch (e) {
        // 401: the session had already ended; anything else is shown.
        if (e.status !== 401) {
          show(slot, h('span', { class: 'session-problem', role: 'alert' }, 'Sign-out failed: ' + e.message));
          return;
        }
      }
      await reload();
      await renderSession(changed);
      changed();
    });
    slot.setAttribute('title', s.me.method === 'github'
      ? 'Signed in with GitHub as ' + who + (s.me.admin ? ' (an admin session)' : '')
      : 'Signed in with the admin password');
    show(slot,
      h('span', { id: 'session-user', class: 'session-user' }, who),
      s.me.admin ? h('span', { class: 'badge warn', id: 'session-admin' }, 'admin') : null,
      out);
  } else if (s.methods.github || s.methods.password) {
    slot.setAttribute('title', 'Read-only public view; sign in to see your own agents');
    show(slot,
      s.methods.github ? h('a', { href: '/auth/github', id: 'sign-in' }, 'Sign in with GitHub') : null,
      s.methods.password ? h('a', { href: '#/sign-in', id: 'password-sign-in' }, 'Admin sign-in') : null);
  } else {
    slot.setAttribute('title', 'Read-only: what the control plane\'s public routes show');
    show(slot, 'Public view');
  }
}

/**
 * The admin password form (#/sign-in), when the CP offers it. The form is never submitted by the
 * browser (the CSP has form-action 'none'): the submit handler POSTs JSON with fetch, clears the
 * field, and on success goes to the fleet. `changed` runs once signed in.
 */
export async function signInPage(changed) {
  const s = await session();
  const nodes = [h('h1', {}, 'Sign in')];
  if (s.me) {
    nodes.push(h('p', { id: 'already-signed-in' }, 'You are signed in as ' + (s.me.login || 'admin') + '.'));
    return { title: 'Sign in', nodes };
  }
  if (s.methods.github) {
    nodes.push(h('p', {}, h('a', { href: '/auth/github' }, 'Sign in with GitHub'), ' to see the agents you own.'));
  }
  if (!s.methods.password) {
    nodes.push(h('p', { class: 'muted' }, 'This control plane takes no admin password.'));
    return { title: 'Sign in', nodes };
  }
  const field = h('input', { type: 'password', id: 'password', name: 'password', autocomplete: 'current-password', required: true, maxlength: 1024 });
  const problem = h('p', { class: 'error', id: 'sign-in-problem', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit' }, 'Sign in');
  const form = h('form', { id: 'password-form', class: 'card sign-in' },
    h('label', { for: 'password' }, 'Admin password'), field, submit, problem);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const password = field.value;
    field.value = '';
    submit.disabled = true;
    try {
      await passwordSignIn(password);
    } catch (e) {
      show(problem, e.status === 401 ? 'That is not the admin password.' : 'Sign-in failed: ' + e.message, ' (' + e.code + ')');
      problem.hidden = false;
      submit.disabled = false;
      field.focus();
      return;
    }
    await reload();
    changed();
    location.hash = '#/';
  });
  nodes.push(form, h('p', { class: 'note' }, 'An admin session: the operator\'s view, for ' +
    'the session\'s lifetime. The password goes to this control plane only; the session is a cookie ' +
    'no script can read.'));
  return { title: 'Sign in', nodes };
}
