"""The gateway's own OAuth 2.1 authorization server for `/mcp`, as the MCP authorization spec describes.

On the embedded default (the development key pair, a bare-name issuer) nothing else issues tokens
an MCP client could obtain by itself, so the gateway is the authorization server its protected
resource metadata names: RFC 8414 metadata, dynamic client registration (RFC 7591) and client ID
metadata documents, the authorization code grant with PKCE (S256) behind a sign-in and consent
page (the console's demo users and session), access tokens bound to `/mcp` (RFC 8707) signed with
the deployment's key and carrying the claims every user token carries, rotating refresh tokens,
and revocation (RFC 7009). With an identity provider configured the metadata names the provider
and these endpoints answer 404.

`server.py` is the protocol (on authlib), `store.py` what it keeps, `client_documents.py` the
documents it fetches, `pages.py` what the user sees, `routes.py` the HTTP endpoints.
"""
