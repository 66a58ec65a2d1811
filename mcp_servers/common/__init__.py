"""What all four servers truly share: bootstrap, mesh-token verification and tenant context."""
