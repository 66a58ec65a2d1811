"""The knowledge-base MCP server: tenant-scoped documents in Qdrant, searched by hybrid retrieval."""
