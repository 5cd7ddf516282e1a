// The official TypeScript SDK's MCP client, given nothing but a tenant's URL, signing in with its OAuth
// support (DCR registration, PKCE, the resource indicator). tests/test_oauth_typescript.py drives it:
// this script prints "AUTHORIZE <url>" for the member's browser, reads the redirect it came back to on
// stdin, finishes the sign-in, then lists the tools and calls one, printing "RESULT <json>".
//
// Usage: node oauth_client.mjs <mcp-url> <redirect-url>
import { createInterface } from "node:readline";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";

const [serverUrl, redirectUrl] = process.argv.slice(2);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

class MemoryProvider {
  saved = {};
  get redirectUrl() { return redirectUrl; }
  get clientMetadata() {
    return {
      client_name: "TypeScript SDK client",
      redirect_uris: [redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
      scope: "read write",
    };
  }
  clientInformation() { return this.saved.client; }
  saveClientInformation(client) { this.saved.client = client; }
  tokens() { return this.saved.tokens; }
  saveTokens(tokens) { this.saved.tokens = tokens; }
  saveCodeVerifier(verifier) { this.saved.verifier = verifier; }
  codeVerifier() { return this.saved.verifier; }
  redirectToAuthorization(url) { console.log(`AUTHORIZE ${url.href}`); }
}

const provider = new MemoryProvider();
const connect = async () => {
  const transport = new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider: provider });
  const client = new Client({ name: "oauth-e2e", version: "1.0.0" });
  await client.connect(transport);
  return { client, transport };
};

try {
  await connect();
  throw new Error("connected without signing in");
} catch (error) {
  if (!(error instanceof UnauthorizedError)) throw error;
}
const redirect = new URL((await lines.next()).value);
const transport = new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider: provider });
await transport.finishAuth(redirect.searchParams.get("code"));
const { client } = await connect();
const tools = await client.listTools();
const result = await client.callTool({ name: "core_list_sucursales", arguments: {} });
console.log(`RESULT ${JSON.stringify({ tools: tools.tools.map((tool) => tool.name), result })}`);
await client.close();
process.exit(0);
