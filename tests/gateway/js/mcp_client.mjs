// An independent MCP client for the gateway's /mcp endpoint: the official TypeScript SDK.
//
//   node mcp_client.mjs session URL TOKEN [TOOL ARGS_JSON]   list tools (and call TOOL), print JSON
//   node mcp_client.mjs challenge URL                        what an unauthenticated client discovers
//   node mcp_client.mjs features URL TOKEN URI MST_PREFIX    resources, prompts, completions, logging,
//                                                            and the progress of an ingestion, as JSON
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  discoverOAuthProtectedResourceMetadata,
  extractWWWAuthenticateParams,
} from "@modelcontextprotocol/sdk/client/auth.js";

async function session(url, token, toolName, argsJson) {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: "agentmesh-js-test", version: "1.0.0" });
  await client.connect(transport);
  const listed = await client.listTools();
  let call = null;
  if (toolName) {
    call = await client.callTool({ name: toolName, arguments: JSON.parse(argsJson || "{}") });
  }
  const result = {
    protocolVersion: transport.protocolVersion ?? null,
    server: client.getServerVersion(),
    tools: listed.tools,
    call,
  };
  await client.close();
  return result;
}

async function features(url, token, uri, mstPrefix) {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: "agentmesh-js-test", version: "1.0.0" });
  await client.connect(transport);
  const resources = (await client.listResources()).resources.map((resource) => resource.uri);
  const read = (await client.readResource({ uri })).contents[0].text;
  const prompts = (await client.listPrompts()).prompts.map((prompt) => prompt.name);
  const completion = (
    await client.complete({
      ref: { type: "ref/prompt", name: "erp__get_customer_debt" },
      argument: { name: "mst", value: mstPrefix },
    })
  ).completion.values;
  const logging = await client.setLoggingLevel("info");
  const progress = [];
  const text = "# Progress\n\n" + Array.from({ length: 200 }, (_, n) => `Paragraph ${n} on refunds.`).join("\n\n");
  const ingest = await client.callTool(
    { name: "rag__ingest_text", arguments: { title: "JS progress", text } },
    undefined,
    { onprogress: (step) => progress.push(step) },
  );
  const result = { capabilities: client.getServerCapabilities(), resources, read, prompts, completion, logging, progress, ingest };
  await client.close();
  return result;
}

async function challenge(url) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} }),
  });
  await response.body?.cancel();
  const { resourceMetadataUrl, error } = extractWWWAuthenticateParams(response);
  const metadata = await discoverOAuthProtectedResourceMetadata(url, { resourceMetadataUrl });
  return { status: response.status, resourceMetadataUrl: resourceMetadataUrl?.href ?? null, error, metadata };
}

const [mode, ...args] = process.argv.slice(2);
const run = { session, challenge, features }[mode];
if (!run) {
  console.error(`unknown mode ${mode}: use session, challenge or features`);
  process.exit(2);
}
console.log(JSON.stringify(await run(...args)));
