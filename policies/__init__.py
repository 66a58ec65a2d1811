"""Per-tenant policy: the model, the one decision function, and the demo tenants' policy files."""
