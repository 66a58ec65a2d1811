"""agentmesh: a multi-tenant agent platform built MCP-first."""

__version__ = "0.1.0"
