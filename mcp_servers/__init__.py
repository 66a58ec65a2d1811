"""The domain MCP servers of agentmesh, one package each, each runnable alone."""
