// Signing in, and the access token the page calls the APIs with.
//
// The console's session lives in an HttpOnly cookie the page cannot read. The access token comes
// from `POST /console/auth/token` and is kept in this module's memory only: never in
// localStorage or sessionStorage, so another script on the page, a browser extension reading
// storage, or a later visitor of the machine finds nothing. A reload asks for a new one.

const CONSOLE_HEADER = { "X-Agentmesh-Console": "1" };
const RENEW_BEFORE_MS = 30_000;

let token = null; // { access_token, expires_at, identity }
let pending = null;

async function consoleRequest(method, path, body) {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: { ...CONSOLE_HEADER, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const payload = response.status === 204 ? null : await response.json();
  if (!response.ok) {
    const error = new Error(payload?.error?.message || response.statusText);
    error.status = response.status;
    error.code = payload?.error?.code;
    throw error;
  }
  return payload;
}

/** Whether this browser is signed in, as whom, and how one may sign in. */
export function session() {
  return consoleRequest("GET", "/console/auth/session");
}

export async function signInDev(user) {
  token = null;
  return consoleRequest("POST", "/console/auth/dev", { user });
}

export async function signOut() {
  token = null;
  await consoleRequest("POST", "/console/auth/signout");
}

/** A current access token, asking the gateway for a new one when it is about to expire. */
export async function accessToken({ renew = false } = {}) {
  if (!renew && token && token.expires_at * 1000 - Date.now() > RENEW_BEFORE_MS) return token.access_token;
  if (!pending) {
    pending = consoleRequest("POST", "/console/auth/token")
      .then((issued) => {
        token = issued;
        return issued.access_token;
      })
      .finally(() => {
        pending = null;
      });
  }
  return pending;
}

export function forgetToken() {
  token = null;
}
