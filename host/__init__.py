"""The multi-tenant agent host: agents, supervisor, ReAct loop, models, MCP client pool and tool catalog."""
