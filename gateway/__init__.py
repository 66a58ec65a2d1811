"""The gateway: authentication, tenants, rate limits, session memory and the chat API."""
