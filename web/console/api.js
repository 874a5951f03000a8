// Reads the control plane's JSON API (docs/api.md). Public pages read routes open to anyone
// (Access::anyone) and send no credential at all (`credentials: 'omit'`). Only the calls that
// need the signed-in person (the /auth routes, /api/v1/me/*, an owned agent's logs) let the
// browser send the session cookie (`credentials: 'same-origin'`); that cookie is HttpOnly, so no
// script here ever sees the token, and nothing is ever sent to another origin.

/** An error answer of the API, or a failure to reach it. */
export class ApiError extends Error {
  constructor(status, code, message, requestId) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

// One same-origin request to `url` (a path), its JSON parsed, or ApiError.
async function call(url, { method = 'GET', signedIn = false } = {}) {
  let response;
  try {
    response = await fetch(url, {
      method,
      headers: { Accept: 'application/json' },
      credentials: signedIn ? 'same-origin' : 'omit',
      cache: 'no-store',
      redirect: 'error',
    });
  } catch (e) {
    throw new ApiError(0, 'console.unreachable', 'the control plane did not answer: ' + e.message, '');
  }
  let body = null;
  try {
    body = await response.json();
  } catch (e) {
    body = null;
  }
  if (!response.ok) {
    const code = body && typeof body.code === 'string' ? body.code : 'http.' + response.status;
    const message = body && typeof body.message === 'string' ? body.message : response.statusText;
    const requestId = body && typeof body.request_id === 'string' ? body.request_id : '';
    throw new ApiError(response.status, code, message, requestId);
  }
  if (body === null) throw new ApiError(response.status, 'console.bad_json', 'the answer is not JSON', '');
  return body;
}

/** GET /api/v1`path` (path already encoded) without a credential: a public route. */
export function get(path) {
  return call('/api/v1' + path);
}

/** GET /api/v1`path` as the signed-in person (the session cookie goes along). */
export function getSignedIn(path) {
  return call('/api/v1' + path, { signedIn: true });
}

/** GET /auth/methods (public): which ways in this CP offers. */
export function authMethods() {
  return call('/auth/methods');
}

/** GET /auth/me: who is signed in; ApiError 401 when nobody is. */
export function authMe() {
  return call('/auth/me', { signedIn: true });
}

/**
 * POST /admin/login with the admin password. The answer sets the session cookie; its body also
 * carries the token (for scripts that call the API), which the console never reads: on success
 * the body is dropped unread, so the token is never held by a script here.
 */
export async function passwordSignIn(password) {
  let response;
  try {
    response = await fetch('/admin/login', {
      method: 'POST',
      headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
      body: JSON.stringify({ password }),
      credentials: 'same-origin',
      cache: 'no-store',
      redirect: 'error',
    });
  } catch (e) {
    throw new ApiError(0, 'console.unreachable', 'the control plane did not answer: ' + e.message, '');
  }
  if (response.ok) {
    if (response.body) await response.body.cancel();
    return;
  }
  let body = null;
  try {
    body = await response.json();  // an error answer: code and message, no token
  } catch (e) {
    body = null;
  }
  const code = body && typeof body.code === 'string' ? body.code : 'http.' + response.status;
  const message = body && typeof body.message === 'string' ? body.message : response.statusText;
  throw new ApiError(response.status, code, message, body && typeof body.request_id === 'string' ? body.request_id : '');
}

/** POST /admin/logout: ends the session; the answer clears the cookie. */
export function signOut() {
  return call('/admin/logout', { method: 'POST', signedIn: true });
}

/** A path segment or query value, percent-encoded. */
export const enc = encodeURIComponent;

/** GET /health (the root route, public): version and mode for the footer. */
export async function health() {
  const response = await fetch('/health', { headers: { Accept: 'application/json' }, credentials: 'omit', cache: 'no-store' });
  if (!response.ok) throw new ApiError(response.status, 'http.' + response.status, response.statusText, '');
  return response.json();
}
