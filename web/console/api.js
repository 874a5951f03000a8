// Reads the control plane's public JSON API (docs/api.md). The console sends no credential:
// every route it calls is open to anyone (Access::anyone), so it shows only public data.

/** An error answer of the API, or a failure to reach it. */
export class ApiError extends Error {
  constructor(status, code, message, requestId) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

/** GET /api/v1`path` (path already encoded) and parse its JSON, or throw ApiError. */
export async function get(path) {
  let response;
  try {
    response = await fetch('/api/v1' + path, {
      headers: { Accept: 'application/json' },
      credentials: 'omit',
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

/** A path segment or query value, percent-encoded. */
export const enc = encodeURIComponent;

/** GET /health (the root route, public): version and mode for the footer. */
export async function health() {
  const response = await fetch('/health', { headers: { Accept: 'application/json' }, credentials: 'omit', cache: 'no-store' });
  if (!response.ok) throw new ApiError(response.status, 'http.' + response.status, response.statusText, '');
  return response.json();
}
