"""What can go wrong in the search domain, each a platform error with a stable `code`.

A URL that is malformed, refused or unresolvable is the outbound guard's error
(`agentmesh.outbound`: `InvalidUrl`, `BlockedDestination`, `UnresolvableHost`), the same on
every server.
"""

from __future__ import annotations

from agentmesh.errors import AgentmeshError


class SearchError(AgentmeshError):
    """Base of every search-domain error; the message is safe to show to the caller."""


class FetchTimeout(SearchError):
    """The fetch did not finish within the time cap."""

    code = "timeout"


class ResponseTooLarge(SearchError):
    """The response body is larger than the size cap."""

    code = "too_large"


class TooManyRedirects(SearchError):
    """The redirect chain is longer than the redirect cap."""

    code = "too_many_redirects"


class UpstreamStatus(SearchError):
    """The site answered with an HTTP error status."""

    code = "upstream_status"

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message, details={"status": status})
        self.status = status


class UpstreamUnreachable(SearchError):
    """The connection to the site failed (refused, reset, TLS error)."""

    code = "upstream_unavailable"
    retryable = True


class UnsupportedContent(SearchError):
    """The response is not HTML, PDF or text, or holds no readable text."""

    code = "unsupported_format"


class DisallowedByRobots(SearchError):
    """The site's robots.txt does not let us crawl the start page."""

    code = "disallowed_by_robots"


class InvalidQuery(SearchError):
    """The search query holds nothing searchable."""

    code = "invalid_query"


class NetworkRulesUnavailable(SearchError):
    """The network rules file is missing or invalid; fetching fails closed."""

    code = "network_rules_unavailable"


class ProviderFailure(SearchError):
    """A web search provider refused the request or answered something we cannot read."""

    code = "provider_failure"


class InvalidProviderConfig(SearchError):
    """A provider configuration is incomplete or inconsistent."""

    code = "invalid_provider_config"
