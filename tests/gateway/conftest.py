"""Fixtures of the gateway tests: one small real mesh (ERP server + gateway) shared by the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.gateway.mesh import Mesh, running_mesh


@pytest.fixture(scope="session")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    """The ERP server (demo ERP inside) and a gateway in front of it, on loopback ports."""
    with running_mesh(tmp_path_factory.mktemp("mesh")) as running:
        yield running
