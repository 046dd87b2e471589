// Every call to the jobsd API goes through here. It adds the bearer token (kept in this tab's
// sessionStorage, sent only as an Authorization header, never put in a URL), turns problem+json
// answers into ApiError, and, when the server answers 401, asks for the token (once for all
// the calls waiting on it) and retries.

const TOKEN_KEY = 'jobsd.token';

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

let promptForToken = null;
let pendingPrompt = null;

/** Installs the function that asks the person for a token: (message) => Promise<string>. */
export function setTokenPrompt(prompt) { promptForToken = prompt; }

export function currentToken() { return sessionStorage.getItem(TOKEN_KEY); }

function askForToken(rejected) {
  if (!pendingPrompt) {
    const message = rejected
      ? 'jobsd did not accept that token (401 Unauthorized). Check the token jobsd was started with (JOBSD_TOKEN or --token-file).'
      : '';
    pendingPrompt = promptForToken(message).then((token) => {
      sessionStorage.setItem(TOKEN_KEY, token);
      pendingPrompt = null;
    });
  }
  return pendingPrompt;
}

/**
 * fetch() with the token. Resolves with the Response (any status but 401); rejects when the
 * network fails or `signal` aborts. `body`, when given, is sent as JSON.
 */
export async function request(method, path, { body, headers, signal } = {}) {
  for (;;) {
    const sent = currentToken();
    const h = new Headers(headers);
    if (sent) h.set('Authorization', `Bearer ${sent}`);
    const init = { method, headers: h, signal, cache: 'no-store' };
    if (body !== undefined) {
      h.set('Content-Type', 'application/json');
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    if (response.status !== 401) return response;
    await response.body?.cancel();
    // Another call may have got a new token meanwhile: retry with it before asking again.
    if (currentToken() === sent) await askForToken(Boolean(sent));
  }
}

/** The decoded JSON body of a 2xx answer; an ApiError (with the problem) otherwise. */
export async function json(method, path, options) {
  const response = await request(method, path, options);
  const text = await response.text();
  let value = null;
  try { value = text ? JSON.parse(text) : null; } catch { value = null; }
  if (!response.ok) throw new ApiError(response.status, value);
  return { status: response.status, body: value };
}

export const getJSON = async (path, options) => (await json('GET', path, options)).body;

/** One line for a person: the problem's title and detail, and the field it names. */
export function describeError(error) {
  if (!(error instanceof ApiError)) return `Could not reach jobsd: ${error.message}`;
  const p = error.problem;
  const parts = [`${error.status} ${p.title || ''}`.trim()];
  if (p.detail) parts.push(p.detail);
  if (p.field) parts.push(`(field: ${p.field})`);
  return parts.join(' — ');
}
