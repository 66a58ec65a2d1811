"""Model providers behind one interface: `local` (the deterministic planner) and remote LLMs."""
