"""NetworkPolicy semantics, enough to ask whether one endpoint may open a connection to another.

Follows the Kubernetes rules: a pod selected by a policy of a direction is isolated in that
direction and then admits only what some rule of those policies allows; a connection needs the
source's egress and the destination's ingress. Peers are pod selectors (the policy's namespace),
namespace selectors (with or without a pod selector) and IP blocks; ports are numeric.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Literal

from tests.deploy.manifests import Manifest, selects

Direction = Literal["Ingress", "Egress"]


@dataclass(frozen=True)
class Endpoint:
    """A pod (with a namespace and labels) or an address outside the cluster (no namespace)."""

    name: str
    ip: str
    namespace: str | None = None
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def namespace_labels(self) -> dict[str, str]:
        return {"kubernetes.io/metadata.name": self.namespace} if self.namespace else {}


def allowed(
    policies: list[Manifest], source: Endpoint, target: Endpoint, port: int, protocol: str = "TCP"
) -> bool:
    """Whether `source` may connect to `target` on `port` under `policies`."""
    return _admits(policies, source, "Egress", target, port, protocol) and _admits(
        policies, target, "Ingress", source, port, protocol
    )


def _admits(
    policies: list[Manifest], pod: Endpoint, direction: Direction, peer: Endpoint, port: int, protocol: str
) -> bool:
    if pod.namespace is None:  # outside the cluster: no policy governs it
        return True
    governing = [
        policy
        for policy in policies
        if policy["metadata"].get("namespace") == pod.namespace
        and direction in _policy_types(policy)
        and selects(policy["spec"]["podSelector"], pod.labels)
    ]
    if not governing:
        return True
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for policy in governing:
        for rule in policy["spec"].get(key) or []:
            peers = rule.get(peers_key)
            ports = rule.get("ports")
            peer_ok = not peers or any(_matches(entry, peer, policy) for entry in peers)
            port_ok = not ports or any(_port_matches(entry, port, protocol) for entry in ports)
            if peer_ok and port_ok:
                return True
    return False


def _policy_types(policy: Manifest) -> list[str]:
    types: list[str] | None = policy["spec"].get("policyTypes")
    if types is not None:
        return types
    return ["Ingress", "Egress"] if policy["spec"].get("egress") else ["Ingress"]


def _matches(entry: Manifest, peer: Endpoint, policy: Manifest) -> bool:
    if "ipBlock" in entry:
        if peer.namespace is not None:
            # Pod IPs are cluster-internal; the blocks here name addresses outside the cluster.
            return False
        block = entry["ipBlock"]
        address = ipaddress.ip_address(peer.ip)
        if address not in ipaddress.ip_network(block["cidr"]):
            return False
        return not any(address in ipaddress.ip_network(cidr) for cidr in block.get("except", []))
    if peer.namespace is None:
        return False
    if "namespaceSelector" in entry:
        namespace_ok = selects(entry["namespaceSelector"], peer.namespace_labels)
    else:
        namespace_ok = peer.namespace == policy["metadata"].get("namespace")
    pod_ok = selects(entry["podSelector"], peer.labels) if "podSelector" in entry else True
    return namespace_ok and pod_ok


def _port_matches(entry: Manifest, port: int, protocol: str) -> bool:
    if entry.get("protocol", "TCP") != protocol:
        return False
    wanted = entry.get("port")
    if wanted is None:
        return True
    if not isinstance(wanted, int):
        raise AssertionError(f"named port {wanted!r} in a NetworkPolicy: use numbers")
    return wanted <= port <= entry.get("endPort", wanted)
