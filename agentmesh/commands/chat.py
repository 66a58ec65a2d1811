"""`agentmesh chat --tenant T [--url URL] [--session S] [--json] MESSAGE`: one chat turn."""

from __future__ import annotations

import argparse
import json
import sys

from agentmesh.commands._settings import settings_from_args


def register(
    subcommands: argparse._SubParsersAction[argparse.ArgumentParser], options: argparse.ArgumentParser
) -> None:
    parser = subcommands.add_parser(
        "chat", parents=[options], help="send one message to the gateway and print the answer"
    )
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--user", default="alice")
    parser.add_argument(
        "--url", default=None, help="gateway URL (default $AGENTMESH_URL or http://127.0.0.1:8000)"
    )
    parser.add_argument("--session", default=None, help="continue this session id")
    parser.add_argument("--agent", default=None, help="ask this agent instead of routing")
    parser.add_argument(
        "--token", default=None, help="bearer token (default: a dev token for --tenant/--user)"
    )
    parser.add_argument("--json", action="store_true", help="print the whole JSON response")
    parser.add_argument("message")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import httpx

    from agentmesh.dev_tokens import issue_dev_token

    settings = settings_from_args(args)
    url = (args.url or settings.gateway_url).rstrip("/")
    token = args.token or issue_dev_token(settings, tenant_id=args.tenant, user=args.user, ttl_seconds=600)
    body: dict[str, object] = {"message": args.message}
    if args.session:
        body["session_id"] = args.session
    if args.agent:
        body["agent"] = args.agent
    try:
        response = httpx.post(
            f"{url}/api/{args.tenant}/chat",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=120.0,
        )
    except httpx.HTTPError as exc:
        print(f"error: cannot reach the gateway at {url}: {exc}", file=sys.stderr)
        return 2
    payload = response.json()
    if args.json:
        print(json.dumps(payload, indent=2, ensure_ascii=False))
        return 0 if response.is_success else 1
    if not response.is_success:
        error = payload.get("error", {})
        print(f"error {response.status_code} {error.get('code')}: {error.get('message')}", file=sys.stderr)
        return 1
    print(payload["answer"])
    # A message with two requests is answered by one agent each, named by the turn's route steps.
    routed = [step.get("agent") for step in payload.get("steps", []) if step.get("type") == "route"]
    agents = list(dict.fromkeys(agent for agent in routed if agent)) or [payload["agent"] or "-"]
    named = f"agents: {', '.join(agents)}" if len(agents) > 1 else f"agent: {agents[0]}"
    outcome, session = payload["outcome"], payload["session_id"]
    print(f"\n[{named} | outcome: {outcome} | session: {session}]", file=sys.stderr)
    return 0
