"""Inputs come as base64 or from the caller's own folder, never from anywhere else."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from mcp_servers.ocr.errors import FileNotFound, InputTooLarge, InvalidInput, PathRefused
from mcp_servers.ocr.sources import DocumentSource, InputLimits

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
LIMITS = InputLimits(max_bytes=1024, max_pixels=10_000_000, max_pages=5)


@pytest.fixture
def allowed(tmp_path: Path) -> Path:
    root = tmp_path / "allowed"
    for tenant in ("acme", "globex"):
        (root / tenant / "scans").mkdir(parents=True)
        (root / tenant / "scans" / "receipt.png").write_bytes(PNG + tenant.encode())
    (tmp_path / "secret.png").write_bytes(PNG + b"outside")
    return root


def test_plain_base64_and_data_urls_are_decoded(allowed: Path) -> None:
    source = DocumentSource(allowed, LIMITS)
    encoded = base64.b64encode(PNG).decode()
    assert source.read(encoded, "acme") == PNG
    assert source.read(f"data:image/png;base64,{encoded}", "acme") == PNG
    wrapped = "\n".join(encoded[i : i + 16] for i in range(0, len(encoded), 16))
    assert source.read(wrapped, "acme") == PNG


def test_a_path_is_read_from_the_callers_folder(allowed: Path) -> None:
    source = DocumentSource(allowed, LIMITS)
    assert source.read("scans/receipt.png", "acme") == PNG + b"acme"
    assert source.read("scans/receipt.png", "globex") == PNG + b"globex"
    assert source.read(str(allowed / "acme" / "scans" / "receipt.png"), "acme") == PNG + b"acme"


@pytest.mark.parametrize(
    "path",
    [
        "../globex/scans/receipt.png",
        "scans/../../globex/scans/receipt.png",
        "../../secret.png",
        "/etc/passwd",
    ],
)
def test_traversal_and_absolute_paths_outside_the_folder_are_refused(allowed: Path, path: str) -> None:
    with pytest.raises(PathRefused, match="outside your folder"):
        DocumentSource(allowed, LIMITS).read(path, "acme")


def test_another_tenants_folder_is_refused_even_by_absolute_path(allowed: Path) -> None:
    other = allowed / "globex" / "scans" / "receipt.png"
    with pytest.raises(PathRefused, match="outside your folder"):
        DocumentSource(allowed, LIMITS).read(str(other), "acme")


def test_a_symlink_out_of_the_folder_is_refused(allowed: Path, tmp_path: Path) -> None:
    (allowed / "acme" / "scans" / "link.png").symlink_to(tmp_path / "secret.png")
    (allowed / "acme" / "globex").symlink_to(allowed / "globex")
    source = DocumentSource(allowed, LIMITS)
    with pytest.raises(PathRefused):
        source.read("scans/link.png", "acme")
    with pytest.raises(PathRefused):
        source.read("globex/scans/receipt.png", "acme")


def test_missing_files_and_disabled_path_input_are_explained(allowed: Path) -> None:
    with pytest.raises(FileNotFound, match=r"no file .scans/nope\.png.") as missing:
        DocumentSource(allowed, LIMITS).read("scans/nope.png", "acme")
    with pytest.raises(PathRefused, match="reading files by path is not enabled here: attach") as disabled:
        DocumentSource(None, LIMITS).read("scans/receipt.png", "acme")
    with pytest.raises(PathRefused, match="not available for this account: attach") as no_folder:
        DocumentSource(allowed, LIMITS).read("scans/receipt.png", "../acme")
    # What a user may read names no server setting and no server path.
    for refusal in (missing, disabled, no_folder):
        message = str(refusal.value)
        assert "AGENTMESH" not in message and "ALLOWED_DIR" not in message and "_DIR" not in message
        assert str(allowed) not in message and "/tmp" not in message


def test_broken_base64_is_said_to_be_broken_not_a_path() -> None:
    with pytest.raises(InvalidInput, match="neither valid base64 nor a data: URL nor a file path: attach"):
        DocumentSource(None, LIMITS).read("notbase64!!!", "acme")
    with pytest.raises(PathRefused, match="reading files by path is not enabled here"):
        DocumentSource(None, LIMITS).read("/srv/scans/receipt", "acme")  # a path without an extension


@pytest.mark.parametrize("allowed_dir", [None, "allowed"])
def test_a_question_in_place_of_the_document_asks_for_the_document(
    allowed: Path, allowed_dir: str | None
) -> None:
    source = DocumentSource(allowed if allowed_dir else None, LIMITS)
    for question in ("What is the total on this receipt?", "Tổng cộng trên hóa đơn này là bao nhiêu?"):
        with pytest.raises(
            InvalidInput, match="no document came with the request, only text: attach"
        ) as refused:
            source.read(question, "acme")
        assert "AGENTMESH" not in str(refused.value) and "path" not in str(refused.value)


def test_a_file_name_with_spaces_is_still_a_path(allowed: Path) -> None:
    (allowed / "acme" / "my receipt from today.png").write_bytes(PNG)
    assert DocumentSource(allowed, LIMITS).read("my receipt from today.png", "acme") == PNG


def test_size_caps_name_the_limit(allowed: Path) -> None:
    source = DocumentSource(allowed, LIMITS)
    with pytest.raises(InputTooLarge, match="the limit is 1,024 bytes"):
        source.read(base64.b64encode(PNG * 40).decode(), "acme")
    (allowed / "acme" / "big.png").write_bytes(PNG * 40)
    with pytest.raises(InputTooLarge, match="the limit is 1,024 bytes"):
        source.read("big.png", "acme")


def test_empty_and_malformed_inputs_are_refused(allowed: Path) -> None:
    source = DocumentSource(allowed, LIMITS)
    with pytest.raises(InvalidInput, match="empty"):
        source.read("   ", "acme")
    with pytest.raises(InvalidInput, match="valid base64"):
        source.read("data:image/png;base64,@@@@", "acme")
