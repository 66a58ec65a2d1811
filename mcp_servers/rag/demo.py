"""The demo knowledge bases: Markdown policies of the demo tenants, ingested on first start.

Each file `demo_kb/<tenant>/<name>.md` becomes document `<name>` of that tenant. Ingesting is
idempotent: a file whose content has not changed writes nothing, so restarts are cheap; a file
edited in the repo replaces the document's chunks on the next start.
"""

from __future__ import annotations

from pathlib import Path

import structlog

from mcp_servers.rag.knowledge_base import DocumentInput, IngestReport, KnowledgeBase

log = structlog.get_logger(__name__)

DEMO_DIR = Path(__file__).parent / "demo_kb"


def seed_demo_knowledge(
    knowledge: KnowledgeBase, directory: Path = DEMO_DIR
) -> dict[str, list[IngestReport]]:
    """Ingest every demo document; returns the reports by tenant."""
    reports: dict[str, list[IngestReport]] = {}
    for tenant_dir in sorted(path for path in directory.iterdir() if path.is_dir()):
        uploads = [
            DocumentInput(
                data=path.read_bytes(),
                filename=path.name,
                source_type="markdown",
                metadata={"source": "demo"},
                document_id=path.stem,
            )
            for path in sorted(tenant_dir.glob("*.md"))
        ]
        reports[tenant_dir.name] = knowledge.ingest_many(tenant_dir.name, uploads)
    changed = sum(report.status != "unchanged" for found in reports.values() for report in found)
    log.info("demo_knowledge_seeded", tenants=sorted(reports), documents_changed=changed)
    return reports
