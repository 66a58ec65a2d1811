"""Routing benchmark on CLINC150: one agent per domain, in-scope accuracy and out-of-scope detection.

    python bench/routing.py [--data ../shared/data/clinc150] [--target-oos-recall 0.75]
        [--recall-confidence 1] [--density-weight 0.5] [--folds 5] [--all-folds]

Agents are configured from the training split only: a description per domain (its name and its
intents' names) and at most ten examples per intent, chosen as the intent's most representative
messages (greedy facility location over their embeddings). They are routed with each example's
similarity adjusted for its local density (`--density-weight`, `RouterSettings.density_weight`).
The score curve, threshold and margin are calibrated on training data only: agents built from one
half of each intent's training rows are calibrated on the other half plus `oos_train.jsonl`, the
threshold set where the recall's lower bound, `--recall-confidence` standard errors down, reaches
the target (100 out-of-scope messages measure a recall to about four points). The router
evaluated is built the same way from the full training rows and carries those settings.
Evaluation is on `val.jsonl` (in-scope) and `oos_val.jsonl` (out-of-scope), one `Router.route`
call per message, timed end to end.

In-scope accuracy counts a message right only when it is routed, without clarification, to its
domain's agent; an out-of-scope message is caught when the router asks to clarify.

Then one of `--folds` folds of the training data (each intent's rows dealt round the folds) and of
`oos_train.jsonl` is held out: agents and settings are fitted the same way on the other folds and
evaluated on the held-out one, rows nothing was fitted to. `--all-folds` does that for every fold
and reports the pooled figures too (15,000 in-scope and 100 out-of-scope messages, each judged by
a router fitted without it): the figure to choose settings by, never `val`.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agentmesh.embeddings import embed
from host.routing import AgentProfile, RouteDecision, Router, RouterSettings
from host.routing_calibration import calibrate

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "clinc150"


@dataclass(frozen=True)
class Row:
    text: str
    intent: str
    domain: str


class MemoEncoder:
    """The real encoder with a memo, so training messages are embedded once per run."""

    def __init__(self) -> None:
        self._vectors: dict[str, np.ndarray] = {}

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(text for text in texts if text not in self._vectors))
        if missing:
            self._vectors.update(zip(missing, embed(missing), strict=True))
        return np.stack([self._vectors[text] for text in texts])


class TimedEncoder:
    """The real encoder, keeping the time of each call, to split a route's latency."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        began = time.perf_counter()
        vectors = embed(texts)
        self.seconds += time.perf_counter() - began
        return vectors


def read_rows(path: Path) -> list[Row]:
    with path.open(encoding="utf-8") as lines:
        return [Row(**json.loads(line)) for line in lines if line.strip()]


def representative(texts: Sequence[str], vectors: np.ndarray, count: int) -> list[str]:
    """The `count` texts that best cover the others (greedy facility location on cosine similarity)."""
    similarity = vectors @ vectors.T
    coverage = np.full(len(texts), -1.0)
    chosen: list[int] = []
    for _ in range(min(count, len(texts))):
        gain = np.maximum(similarity, coverage[None, :]).sum(axis=1)
        gain[chosen] = -np.inf
        best = int(gain.argmax())
        chosen.append(best)
        coverage = np.maximum(coverage, similarity[best])
    return [texts[index] for index in chosen]


def domain_agents(
    rows: Sequence[Row], domains: dict[str, list[str]], encoder: MemoEncoder, per_intent: int
) -> list[AgentProfile]:
    """One agent per domain, described by its intents and shown its intents' representative messages."""
    by_intent: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        by_intent[row.intent].append(row.text)
    agents = []
    for domain, intents in domains.items():
        examples: list[str] = []
        for intent in intents:
            texts = by_intent[intent]
            examples += representative(texts, encoder(texts), per_intent)
        topics = ", ".join(intent.replace("_", " ") for intent in intents)
        description = f"{domain.replace('_', ' ')}: {topics}"
        agents.append(AgentProfile(name=domain, description=description, examples=examples))
    return agents


def halves(rows: Sequence[Row], seed: int) -> tuple[list[Row], list[Row]]:
    """Each intent's rows shuffled and cut in two: one half configures, the other calibrates."""
    by_intent: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_intent[row.intent].append(row)
    generator = random.Random(seed)
    first: list[Row] = []
    second: list[Row] = []
    for intent in sorted(by_intent):
        group = by_intent[intent][:]
        generator.shuffle(group)
        first += group[: len(group) // 2]
        second += group[len(group) // 2 :]
    return first, second


def held_out_fold(rows: Sequence[Row], folds: int, seed: int, fold: int = 0) -> tuple[list[Row], list[Row]]:
    """Fold `fold` of `folds` held out (each intent's rows shuffled and dealt round the folds): the
    rows to fit on and the rows never seen while fitting."""
    by_intent: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_intent[row.intent].append(row)
    generator = random.Random(seed + 1)
    kept: list[Row] = []
    held: list[Row] = []
    for intent in sorted(by_intent):
        group = by_intent[intent][:]
        generator.shuffle(group)
        for index, row in enumerate(group):
            (held if index % folds == fold else kept).append(row)
    return kept, held


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def fitted_router(
    train: Sequence[Row],
    oos_train: Sequence[Row],
    domains: dict[str, list[str]],
    encoder: MemoEncoder,
    args: argparse.Namespace,
) -> Router:
    """Agents from `train`, settings calibrated on `train` and `oos_train` only (cross-fitted halves)."""
    configure, calibrate_on = halves(train, args.seed)
    configured = RouterSettings(density_weight=args.density_weight)
    calibration_router = Router(
        domain_agents(configure, domains, encoder, args.examples_per_intent),
        settings=configured,
        encoder=encoder,
    )
    settings = calibrate(
        calibration_router,
        [(row.text, row.domain) for row in calibrate_on],
        [row.text for row in oos_train],
        target_oos_recall=args.target_oos_recall,
        recall_confidence=args.recall_confidence,
    )
    return Router(
        domain_agents(train, domains, encoder, args.examples_per_intent), settings=settings, encoder=encoder
    )


def report(
    name: str,
    in_scope_rows: Sequence[Row],
    in_scope: Sequence[RouteDecision],
    out_of_scope: Sequence[RouteDecision],
) -> None:
    """Accuracy (a clarification is a miss), out-of-scope recall and precision, decisions by reason."""
    right = sum(
        1 for row, decision in zip(in_scope_rows, in_scope, strict=True) if decision.agent == row.domain
    )
    answered = [
        (row, decision) for row, decision in zip(in_scope_rows, in_scope, strict=True) if not decision.clarify
    ]
    right_when_answered = sum(1 for row, decision in answered if decision.agent == row.domain)
    caught = sum(1 for decision in out_of_scope if decision.clarify)
    clarified_in_scope = len(in_scope_rows) - len(answered)
    reasons: dict[str, int] = defaultdict(int)
    for decision in [*in_scope, *out_of_scope]:
        reasons[decision.reason] += 1
    total = len(in_scope_rows)
    print(f"[{name}] in-scope domain accuracy: {right / total:.4f} ({right}/{total}; clarification = miss)")
    print(f"[{name}]   accuracy when routed: {right_when_answered / max(len(answered), 1):.4f}")
    print(f"[{name}]   in-scope clarified: {clarified_in_scope / total:.4f}")
    print(f"[{name}] out-of-scope recall: {caught / len(out_of_scope):.4f} ({caught}/{len(out_of_scope)})")
    precision = caught / max(caught + clarified_in_scope, 1)
    print(f"[{name}] out-of-scope precision: {precision:.4f} (out-of-scope among clarified)")
    print(f"[{name}] decisions by reason: {dict(sorted(reasons.items()))}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--examples-per-intent", type=int, default=10)
    parser.add_argument("--target-oos-recall", type=float, default=0.75)
    parser.add_argument(
        "--recall-confidence",
        type=float,
        default=1.0,
        help="standard errors the calibration recall must clear the target by (0: the measurement itself)",
    )
    parser.add_argument(
        "--density-weight",
        type=float,
        default=0.5,
        help="RouterSettings.density_weight (0: plain nearest-example similarity, the product's default)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads for the encoder")
    parser.add_argument(
        "--folds", type=int, default=5, help="also report one of this many training folds, held out (0: skip)"
    )
    parser.add_argument("--all-folds", action="store_true", help="hold out every fold in turn and pool them")
    args = parser.parse_args(argv)
    if args.all_folds and args.folds < 2:
        parser.error("--all-folds needs --folds of at least 2")
    if not 1 <= args.examples_per_intent <= 10:
        parser.error("--examples-per-intent must be between 1 and 10 (the benchmark's rule)")
    torch.set_num_threads(args.threads)

    domains: dict[str, list[str]] = json.loads((args.data / "domains.json").read_text(encoding="utf-8"))
    train = read_rows(args.data / "train.jsonl")
    oos_train = read_rows(args.data / "oos_train.jsonl")
    val = read_rows(args.data / "val.jsonl")
    oos_val = read_rows(args.data / "oos_val.jsonl")
    encoder = MemoEncoder()

    started = time.perf_counter()
    fitted = fitted_router(train, oos_train, domains, encoder, args)
    timed = TimedEncoder()
    router = Router(fitted.agents, settings=fitted.settings, encoder=timed)
    print(
        f"configured and calibrated in {time.perf_counter() - started:.1f}s: {router.settings.model_dump()}"
    )
    print(f"agents: {len(router.agents)} ({sum(len(agent.examples) for agent in router.agents)} examples)")

    router.route("warm up the encoder")
    latencies: list[float] = []
    own_work: list[float] = []
    decisions = []
    for row in [*val, *oos_val]:
        timed.seconds = 0.0
        began = time.perf_counter()
        decisions.append(router.route(row.text))
        elapsed = time.perf_counter() - began
        latencies.append(elapsed * 1000)
        own_work.append((elapsed - timed.seconds) * 1000)
    report("validation", val, decisions[: len(val)], decisions[len(val) :])
    print(
        f"route latency ms: p50 {percentile(latencies, 50):.2f}  p95 {percentile(latencies, 95):.2f}"
        f"  mean {statistics.fmean(latencies):.2f}  (torch threads: {args.threads})"
    )
    print(
        f"  of which outside the encoder: p50 {percentile(own_work, 50):.2f}"
        f"  p95 {percentile(own_work, 95):.2f}"
    )

    if args.folds > 1:
        # Agents and settings fitted without one fold of the training data (and of oos_train),
        # then evaluated on that fold: figures on rows nothing was fitted to.
        pooled: tuple[list[Row], list[RouteDecision], list[RouteDecision]] = ([], [], [])
        for fold in range(args.folds if args.all_folds else 1):
            kept, held = held_out_fold(train, args.folds, args.seed, fold)
            oos_kept, oos_held = held_out_fold(oos_train, args.folds, args.seed, fold)
            fold_router = fitted_router(kept, oos_kept, domains, encoder, args)
            in_scope = fold_router.route_many([row.text for row in held])
            out_of_scope = fold_router.route_many([row.text for row in oos_held])
            report(f"held-out fold {fold + 1}/{args.folds}", held, in_scope, out_of_scope)
            pooled[0].extend(held)
            pooled[1].extend(in_scope)
            pooled[2].extend(out_of_scope)
        if args.all_folds:
            report(f"all {args.folds} folds pooled", *pooled)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
