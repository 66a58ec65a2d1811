// Preloaded into the conformance suite (`node --import ./bearer.mjs`): the suite's client has no
// option for credentials, and every agentmesh MCP endpoint requires a bearer token. This adds
// `Authorization: Bearer $CONFORMANCE_BEARER_TOKEN` to each request bound for the origin of
// `$CONFORMANCE_TARGET_URL`, through undici's global dispatcher, which Node's fetch and the
// suite's own undici share; requests that already carry an Authorization header keep theirs.
import { Agent, setGlobalDispatcher } from "undici";

const token = process.env.CONFORMANCE_BEARER_TOKEN;
const target = process.env.CONFORMANCE_TARGET_URL;
if (!token || !target) {
  throw new Error("bearer.mjs needs CONFORMANCE_BEARER_TOKEN and CONFORMANCE_TARGET_URL");
}
const origin = new URL(target).origin;
const bearer = `Bearer ${token}`;

function withBearer(headers) {
  if (headers == null) return { authorization: bearer };
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i += 2) {
      if (String(headers[i]).toLowerCase() === "authorization") return headers;
    }
    return [...headers, "authorization", bearer];
  }
  if (Object.keys(headers).some((name) => name.toLowerCase() === "authorization")) return headers;
  return { ...headers, authorization: bearer };
}

setGlobalDispatcher(
  new Agent().compose((dispatch) => (options, handler) => {
    const to = typeof options.origin === "string" ? options.origin : options.origin?.origin;
    if (to === origin) options = { ...options, headers: withBearer(options.headers) };
    return dispatch(options, handler);
  }),
);
