"""The web console: chat and administration in the browser, served by the gateway at `/`.

Static assets shipped in this package (`static/`: native ES modules, plain CSS, no build step and
no third-party code) and the routes that serve them (`pages.py`), and the sign-in flow
(`signin.py`: a demo user with the development key pair, OpenID Connect authorization code + PKCE
with an identity provider; `auth.py`, `oidc.py`). The page itself only uses the public APIs.
"""

from __future__ import annotations

from gateway.console import pages, signin

operations = [*signin.operations, *pages.operations]
