"""The web search MCP server: safe page fetching, a per-tenant local index, web search providers."""
