"""Vietnamese conversations through the real chat API: routing, facts and the answers' language.

    python bench/vietnamese.py [--conversations bench/data/vietnamese_conversations.yaml] [-v]

Starts the whole mesh as a user does (`agentmesh up` on a fresh data directory: the demo ERP, the
four MCP servers, the gateway; the local planner behind every agent) and plays the conversation
set for tenant acme, each conversation in its own session, turn after turn. Reported:

- **routing**: the share of turns answered by the expected agent (none, for an out-of-scope one);
- **facts**: the share of turns whose answer states every expected fact and has the expected
  outcome. Facts about ERP data are looked up in the demo ERP's own data layer (a separate copy
  seeded from the same fixture), never in what the chat returned, and written the way a
  Vietnamese reader expects them (`321.330.000 ₫`, `388 cây`);
- **Vietnamese**: the share of answers detected as Vietnamese.

The language detector is the host's own (`host.language`), run on the answer without any echo of
the question; a Vietnamese frame around an English passage (a knowledge answer quoting an
English document) still counts as Vietnamese; `-v` prints each answer so a reader can judge.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anyio
import httpx
import yaml

from agentmesh.settings import load_settings
from host.language import detect_language
from mcp_servers.erp.demo_data import DemoErp
from mcp_servers.erp.demo_schema import demo_engine, fixture_as_of, seed_demo_database
from tests.support.whole_mesh import WholeMesh, running_whole_mesh

CONVERSATIONS = Path(__file__).parent / "data" / "vietnamese_conversations.yaml"
TENANT = "acme"
# How a Vietnamese answer words a shipment's status (what a reader should see, not the code).
STATUS_WORDS = {
    "created": "đã tạo",
    "picked_up": "đã lấy hàng",
    "in_transit": "đang vận chuyển",
    "arrived_at_hub": "đã đến kho trung chuyển",
    "out_for_delivery": "đang giao",
    "delivered": "đã giao",
    "delayed": "bị chậm",
}


def vietnamese_number(value: int) -> str:
    return f"{value:,}".replace(",", ".")


def vietnamese_money(value: int) -> str:
    return f"{vietnamese_number(value)} ₫"


class Facts:
    """The expected facts, from the demo ERP's data layer on a copy seeded from its fixture."""

    def __init__(self, erp: DemoErp) -> None:
        self._erp = erp

    async def expected(self, fact: Mapping[str, Any]) -> list[str | tuple[str, ...]]:
        """What the answer must contain: strings, or tuples of which one will do."""
        [(kind, subject)] = fact.items()
        if kind == "text":
            return [str(subject)]
        if kind == "one_of":
            return [tuple(str(text) for text in subject)]
        if kind == "debt_outstanding":
            return [vietnamese_money((await self._erp.debt(TENANT, subject)).outstanding)]
        if kind == "total_paid":
            return [vietnamese_money((await self._erp.payment_history(TENANT, subject)).total_paid)]
        if kind == "total_overdue":
            return [vietnamese_money((await self._erp.overdue_customers(TENANT)).total_overdue)]
        if kind == "shipment_status":
            status = await self._erp.shipment(TENANT, subject)
            return [STATUS_WORDS.get(status.status, status.status), status.location]
        if kind == "stock_available":
            level = await self._erp.stock(TENANT, subject)
            return [f"{vietnamese_number(level.available)} {level.unit}"]
        raise ValueError(f"unknown fact kind {kind!r}")


@dataclass
class Tally:
    turns: int = 0
    routed: int = 0
    factual: int = 0
    vietnamese: int = 0
    misses: list[str] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def _states(answer: str, value: str | tuple[str, ...]) -> bool:
    return value in answer if isinstance(value, str) else any(text in answer for text in value)


async def play(mesh: WholeMesh, conversations: list[dict[str, Any]], facts: Facts, verbose: bool) -> Tally:
    tally = Tally()
    headers = mesh.headers(TENANT, "bench-vi")
    async with httpx.AsyncClient(base_url=mesh.url, headers=headers, timeout=120) as client:
        for conversation in conversations:
            session = uuid.uuid4().hex
            for turn in conversation["turns"]:
                started = time.perf_counter()
                response = await client.post(
                    f"/api/{TENANT}/chat", json={"message": turn["message"], "session_id": session}
                )
                tally.seconds.append(time.perf_counter() - started)
                body = response.json() if response.status_code == 200 else {}
                answer, agent, outcome = body.get("answer", ""), body.get("agent"), body.get("outcome")
                expected = [value for fact in turn.get("facts", []) for value in await facts.expected(fact)]
                missing = [value for value in expected if not _states(answer, value)]
                routed = agent == turn["agent"]
                wanted_outcome = turn.get("outcome", "answered")
                factual = response.status_code == 200 and not missing and outcome == wanted_outcome
                # An answer echoing the question is not Vietnamese for that: the echo is left out.
                vietnamese = detect_language(answer.replace(turn["message"], " ")) == "vi"
                tally.turns += 1
                tally.routed += routed
                tally.factual += factual
                tally.vietnamese += vietnamese
                if not (routed and factual and vietnamese):
                    language = "vi" if vietnamese else "not vi"
                    tally.misses.append(
                        f"[{conversation['name']}] {turn['message']!r}: HTTP {response.status_code}, "
                        f"agent {agent} (want {turn['agent']}), outcome {outcome} (want {wanted_outcome}), "
                        f"missing {missing}, language {language}\n    {answer[:300]!r}"
                    )
                if verbose:
                    print(f"{turn['message']}\n  -> [{agent} | {outcome}] {answer}\n", file=sys.stderr)
    return tally


async def expected_facts(data_dir: Path) -> tuple[Facts, Any]:
    engine = demo_engine(load_settings(AGENTMESH_DATA_DIR=data_dir))
    await seed_demo_database(engine)
    return Facts(DemoErp(engine, as_of=fixture_as_of())), engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=Path, default=CONVERSATIONS)
    parser.add_argument("-v", "--verbose", action="store_true", help="print every answer")
    args = parser.parse_args()
    conversations = yaml.safe_load(args.conversations.read_text(encoding="utf-8"))["conversations"]

    async def run(mesh: WholeMesh, truth_dir: Path) -> Tally:
        facts, engine = await expected_facts(truth_dir)
        try:
            return await play(mesh, conversations, facts, args.verbose)
        finally:
            await engine.dispose()

    with tempfile.TemporaryDirectory(prefix="agentmesh-vi-") as tmp:
        root = Path(tmp)
        (root / "mesh").mkdir()
        (root / "truth").mkdir()
        started = time.perf_counter()
        # One user asks every question: the per-user rate limit (60 a minute) is raised for the run.
        with running_whole_mesh(root / "mesh", AGENTMESH_USER_RATE_LIMIT_RPM="10000") as mesh:
            print(f"mesh up in {time.perf_counter() - started:.0f} s", file=sys.stderr)
            tally = anyio.run(run, mesh, root / "truth")
    report(tally, len(conversations))


def report(tally: Tally, conversations: int) -> None:
    def share(count: int) -> str:
        return f"{count}/{tally.turns} = {100 * count / tally.turns:.1f} %"

    seconds = sorted(tally.seconds)
    print(f"{tally.turns} turns in {conversations} conversations (tenant {TENANT}, local planner)")
    print(f"routing accuracy:   {share(tally.routed)}")
    print(f"fact accuracy:      {share(tally.factual)}")
    print(f"Vietnamese answers: {share(tally.vietnamese)}")
    print(f"turn latency p50 {1000 * seconds[len(seconds) // 2]:.0f} ms, max {1000 * seconds[-1]:.0f} ms")
    if tally.misses:
        print("\nmisses:")
        for miss in tally.misses:
            print(f"- {miss}")


if __name__ == "__main__":
    main()
