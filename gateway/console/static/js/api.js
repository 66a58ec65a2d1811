// Calling the gateway's public APIs as the signed-in user: JSON requests, and server-sent event
// streams read with fetch (so the bearer token travels in a header, never in a URL).

import { accessToken } from "./auth.js";
import { readEvents } from "./sse.js";

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

let onSignedOut = () => {};

/** What to do when the console session has ended (the router sends the user to sign in). */
export function whenSignedOut(handler) {
  onSignedOut = handler;
}

async function authorized(path, init, retried = false) {
  let bearer;
  try {
    bearer = await accessToken({ renew: retried });
  } catch (error) {
    if (error.status === 401) onSignedOut();
    throw new ApiError(error.status || 0, error.code || "console_signed_out", error.message);
  }
  const headers = { ...(init.headers || {}), Authorization: `Bearer ${bearer}` };
  const response = await fetch(path, { ...init, headers, credentials: "same-origin" });
  if (response.status === 401 && !retried) return authorized(path, init, true);
  return response;
}

async function failure(response) {
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  const error = payload?.error || {};
  return new ApiError(response.status, error.code || "http_error", error.message || response.statusText, error.details);
}

/** One JSON request; resolves to the parsed body (null for 204), rejects with an ApiError. */
export async function api(method, path, body, { signal } = {}) {
  const init = { method, signal, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await authorized(path, init);
  if (!response.ok) throw await failure(response);
  return response.status === 204 ? null : response.json();
}

/** A request answered with server-sent events: calls `onEvent(name, data)` for each event. */
export async function stream(method, path, body, onEvent, { signal } = {}) {
  const init = { method, signal, headers: { Accept: "text/event-stream" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await authorized(path, init);
  if (!response.ok) throw await failure(response);
  for await (const { event, data } of readEvents(response, signal)) {
    let parsed;
    try {
      parsed = JSON.parse(data);
    } catch {
      parsed = { text: data };
    }
    onEvent(event, parsed);
  }
}

/** The operations this gateway serves (from its OpenAPI document), to offer only what exists. */
let operations = null;
export async function servedOperations() {
  if (!operations) {
    const response = await fetch("/openapi.json", { credentials: "same-origin" });
    const document = await response.json();
    operations = new Set();
    for (const [path, item] of Object.entries(document.paths || {})) {
      for (const method of Object.keys(item)) operations.add(`${method.toUpperCase()} ${path}`);
    }
    operations.document = document;
  }
  return operations;
}

export function tenantPath(tenant, suffix = "") {
  return `/api/${encodeURIComponent(tenant)}${suffix}`;
}

export function adminPath(tenant, suffix = "") {
  return `/api/admin/tenants/${encodeURIComponent(tenant)}${suffix}`;
}
