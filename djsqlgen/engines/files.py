"""The attachment manifest: which 0.14 ``attach@store`` files 2.x needs rewritten, and where (a read-only query);
for two-way plans, the manifests of ``djsqlgen files --reverse`` (2.x's attachments and filepaths, for 0.14).

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


BACK_MANIFEST_FILE = "files_back_manifest.sql"  # two-way: the attachments 2.x wrote, for 0.14 (AttachmentBack)


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

    @property
    def path_md5(self) -> str:
        """0.14's reference of a row keyed by its path (a 2.x attachment carried back: model/external_back.py)."""
        return dj2_sql.path_md5("`filepath`")


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


@dataclass(frozen=True)
class AttachmentBack:
    """A v1 ``~external_<store>`` whose rows 2.x attachments get on their way back (two-way; model/external_back.py),
    and the v1 columns (table, column) that refer to them: 0.14 reads such an attachment only once ``djsqlgen files
    --reverse`` has written its file and named it."""

    schema: str
    store: str
    subfolding: tuple[int, ...]
    referring: tuple[tuple[str, str], ...]

    @property
    def table(self) -> str:
        return external_table(self.store)

    @property
    def path_md5(self) -> str:
        return dj2_sql.path_md5("e.`filepath`")

    @property
    def target_stem(self) -> str:
        """Where 0.14 reads the attachment, but for its ``.<attachment_name>`` (which only 2.x's file holds)."""
        return dj2_sql.legacy_path("e.`hash`", self.schema, subfolding=self.subfolding)

    @property
    def md5(self) -> str:
        """The md5 of filename, NUL, contents: 2.x's hash, the last part of its path (the trigger checked so)."""
        return dj2_sql.md5_from_base32("SUBSTRING_INDEX(e.`filepath`, '/', -1)")


def attachments_back(model: Model, operations, two_way) -> list[AttachmentBack]:
    """The v1 external tables 2.x attachments go back into, one per (v1 schema, store), with the columns referring."""
    from djsqlgen.model.external_back import external_blobs
    from djsqlgen.ops.convert_external import ConvertExternal

    found: dict[tuple[str, str], tuple[tuple[int, ...], set]] = {}
    for op in operations:
        if not isinstance(op, ConvertExternal) or op.kind != "attach" or op.target_id not in two_way:
            continue
        target = model.find(op.target_id)
        if target is None:
            continue
        for blob in external_blobs(target):
            if blob.kind == "attach" and blob.alias == op.alias:
                driving = target.source.driving
                _, referring = found.setdefault((driving.schema, op.store), (op.subfolding, set()))
                referring.add((driving.name, blob.v1_column))
    return [AttachmentBack(schema, store, subfolding, tuple(sorted(referring)))
            for (schema, store), (subfolding, referring) in sorted(found.items(), key=lambda i: (i[0][1], i[0][0]))]


def back_manifest_sql(plan_name: str, sources: list[AttachmentBack]) -> str:
    return render("attachment_back_manifest.sql.j2", plan_name=plan_name, sources=sources) + "\n"


def back_pending_sql(sources: list[AttachmentBack]) -> str:
    """A condition: a v1 row refers to a 2.x attachment whose 0.14 file ``djsqlgen files --reverse`` has not written."""
    return render("attachments_back_pending.sql.j2", sources=sources)


def back_record_sql(schema: str, store: str) -> str:
    """What ``djsqlgen files --reverse`` runs for each 0.14 file it found in place (name, size, reference, path)."""
    return render("attachment_back_record.sql.j2", schema=schema, table=external_table(store))


FILEPATH_BACK_MANIFEST_FILE = "filepaths_back_manifest.sql"  # two-way: the files 2.x filepaths name, for 0.14


@dataclass(frozen=True)
class FilepathBack:
    """A v1 ``~external_<store>`` whose rows 2.x filepaths get on their way back (two-way; model/external_back.py),
    and the v1 columns (table, column) that refer to them: 0.14 fetches such a file only once ``djsqlgen files
    --reverse`` has read it and filled ``contents_hash`` (0.14 checks the file's md5; 2.x's JSON has none)."""

    schema: str
    store: str
    referring: tuple[tuple[str, str], ...]

    @property
    def table(self) -> str:
        return external_table(self.store)

    @property
    def path_md5(self) -> str:
        return dj2_sql.path_md5("e.`filepath`")


def filepaths_back(model: Model, two_way) -> list[FilepathBack]:
    """The v1 external tables 2.x filepaths go back into, one per (v1 schema, store), with the columns referring."""
    from djsqlgen.model.external_back import external_blobs

    found: dict[tuple[str, str], set] = {}
    for target_id in two_way:
        target = model.target(target_id)
        for blob in external_blobs(target):
            if blob.kind == "filepath":
                found.setdefault((target.source.driving.schema, blob.store), set()).add(
                    (target.source.driving.name, blob.v1_column))
    return [FilepathBack(schema, store, tuple(sorted(referring)))
            for (schema, store), referring in sorted(found.items(), key=lambda i: (i[0][1], i[0][0]))]


def filepath_back_manifest_sql(plan_name: str, sources: list[FilepathBack]) -> str:
    return render("filepath_back_manifest.sql.j2", plan_name=plan_name, sources=sources) + "\n"


def filepath_back_pending_sql(sources: list[FilepathBack]) -> str:
    """A condition: v1 refers to a 2.x filepath whose ``contents_hash`` ``djsqlgen files --reverse`` has not filled."""
    return render("filepaths_back_pending.sql.j2", sources=sources)


def filepath_back_record_sql(schema: str, store: str) -> str:
    """What ``djsqlgen files --reverse`` runs for each file it read (md5, reference in hex, path, size)."""
    return render("filepath_back_record.sql.j2", schema=schema, table=external_table(store))
