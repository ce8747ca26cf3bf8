"""The attachment manifest: which 0.14 ``attach@store`` files 2.x needs rewritten, and where (a read-only query).

Blobs and filepaths are read by 2.x where 0.14 put them; an attachment is not, because 2.x stores
filename, NUL, contents and 0.14 the contents alone. The query lists every attachment of every
external table the plan converts, with the path the v2 JSON points at (``ops.convert_external``).
"""

from __future__ import annotations

from dataclasses import dataclass

from djsqlgen.catalog.types import external_table
from djsqlgen.model.target import Model
from djsqlgen.ops.convert_external import attach_target_path_sql
from djsqlgen.presets import dj2_sql
from djsqlgen.sqltext.render import render


@dataclass(frozen=True)
class AttachmentSource:
    schema: str
    store: str
    subfolding: tuple[int, ...]

    @property
    def table(self) -> str:
        return external_table(self.store)

    @property
    def source_path(self) -> str:
        return dj2_sql.legacy_path("`hash`", self.schema, "CONCAT('.', `attachment_name`)", self.subfolding)

    @property
    def target_path(self) -> str:
        return attach_target_path_sql("`hash`", self.schema)


def attachment_sources(model: Model, operations) -> list[AttachmentSource]:
    """The (v1 schema, store) pairs whose attachments v2 reads in 2.x's format."""
    from djsqlgen.ops.convert_external import ConvertExternal

    # a target id is its v1 table's schema.name, and stays so even when a later operation removes the target
    found = {AttachmentSource(op.target_id.split(".", 1)[0], op.store, op.subfolding)
             for op in operations if isinstance(op, ConvertExternal) and op.kind == "attach"}
    return sorted(found, key=lambda s: (s.store, s.schema))


def manifest_sql(plan_name: str, sources: list[AttachmentSource]) -> str:
    return render("attachment_manifest.sql.j2", plan_name=plan_name, sources=sources) + "\n"


def pending_sql(control: str, sources: list[AttachmentSource]) -> str:
    """A condition: the manifest holds an attachment that ``djsqlgen files`` has not recorded in place."""
    return render("attachments_pending.sql.j2", control=control, sources=sources)


def recorded_table_sql() -> str:
    """Whether a control schema (the one parameter) has the table ``djsqlgen files`` records in."""
    return ("SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
            "AND TABLE_NAME = 'files_written'")


def record_sql(control: str) -> str:
    """What ``djsqlgen files`` runs for each attachment it found in place (store, target path, md5 as parameters)."""
    return render("files_written_record.sql.j2", control=control)
