"""``djsqlgen files``: carry out the attachment manifest on file:// stores, resumable and checksummed.

Each manifest row (``files_manifest.sql``) names a 0.14 attachment and where 2.x reads it. The file is
written as 2.x stores it (filename, NUL, contents) next to its final name, its md5 checked against the
manifest, then renamed into place; a target already holding the right bytes is left alone, so a run
stopped anywhere is finished by running it again. Sources are never changed: 0.14 still reads them.
Each file found in place is recorded in the control schema (``files_written``), which 70_cutover.sql reads:
it refuses while the manifest lists an attachment not recorded there.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from djsqlgen.engines.files import record_sql, recorded_table_sql
from djsqlgen.errors import DjsqlgenError
from djsqlgen.run.db import Database


@dataclass
class FilesReport:
    written: int = 0
    present: int = 0
    problems: list[str] = field(default_factory=list)
    in_place: list[dict] = field(default_factory=list)  # manifest rows whose file now holds the right bytes


def store_locations(specs: tuple[str, ...]) -> dict[str, Path]:
    """``NAME=LOCATION`` options as store name → local directory; only file stores are supported."""
    out = {}
    for spec in specs:
        name, sep, location = spec.partition("=")
        if not sep or not name or not location:
            raise DjsqlgenError(f"--store {spec!r}: write it as NAME=LOCATION, e.g. extstore=/data/dj-store")
        url = urlparse(location)
        if url.scheme not in ("", "file"):
            raise DjsqlgenError(f"--store {name}: {url.scheme}:// stores are not supported yet; only file stores "
                                "(a directory or file://). Carry out files_manifest.sql's rows with your own tool")
        directory = Path(url.path if url.scheme == "file" else location)
        if not directory.is_dir():
            raise DjsqlgenError(f"--store {name}: {directory} is not a directory; give the store's location")
        out[name] = directory
    return out


def manifest_rows(db: Database, manifest: Path) -> list[dict]:
    try:
        query = manifest.read_text(encoding="utf-8")
    except OSError as exc:
        raise DjsqlgenError(f"cannot read {manifest}: {exc.strerror}; generate writes it when the plan converts "
                            "attach@store attributes") from None
    return db.query(query.strip().rstrip(";"))


CHUNK = 1 << 20  # files are read and written a megabyte at a time: an attachment can be larger than memory


def md5_of(path: Path, header: bytes = b"") -> str | None:
    """The md5 of ``header`` then ``path``'s bytes; None when there is no such file."""
    digest = hashlib.md5(header)
    try:
        with path.open("rb") as f:
            while block := f.read(CHUNK):
                digest.update(block)
    except FileNotFoundError:
        return None
    return digest.hexdigest()


def copy_flushed(source: Path, partial: Path, written: bytes = b"", hashed: bytes = b"", start: int = 0
                 ) -> tuple[str, int]:
    """``written`` then ``source``'s bytes from ``start`` into ``partial``, flushed to disk: the md5 of ``hashed``
    and what was written, and the size of the bytes taken from ``source``."""
    digest, size = hashlib.md5(hashed + written), 0
    with source.open("rb") as src, partial.open("wb") as out:
        out.write(written)
        src.seek(start)
        while block := src.read(CHUNK):
            digest.update(block)
            out.write(block)
            size += len(block)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest(), size


def store_root(store: str, locations: dict[str, Path]) -> Path:
    """Where files of ``store`` live (``--store NAME=DIR``)."""
    if store not in locations:
        raise DjsqlgenError(f"the manifest has files of store {store!r}; give its location with --store {store}=DIR")
    return locations[store]


def carry_out(rows: list[dict], locations: dict[str, Path], dry_run: bool = False, echo=print) -> FilesReport:
    report = FilesReport()
    for row in rows:
        root = store_root(row["store"], locations)
        source, target = root / row["source_path"], root / row["target_path"]
        if md5_of(target) == row["md5"]:
            report.present += 1
            report.in_place.append(row)
            continue
        header = row["attachment_name"].encode() + b"\0"  # 2.x: the file name in UTF-8, a NUL, the contents
        if not source.is_file():
            report.problems.append(f"{source}: not there; 2.x cannot read this attachment")
            continue
        if dry_run:
            echo(f"would write {target} ({len(header) + source.stat().st_size:,} bytes) from {source}")
            report.written += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".djsqlgen-partial")
        try:
            written, _ = copy_flushed(source, partial, written=header)
        except OSError as exc:
            report.problems.append(f"{source}: cannot copy it ({exc.strerror})")
            continue
        if written != row["md5"] or md5_of(partial) != row["md5"]:
            partial.unlink()
            report.problems.append(f"{source}: its contents do not match the md5 0.14 recorded ({row['md5']}); "
                                   "the file changed since it was attached: left alone")
            continue
        os.replace(partial, target)  # atomic: 2.x never sees half a file
        report.written += 1
        report.in_place.append(row)
    return report


def control_schema_of(manifest: Path) -> str:
    """The control schema of the migration whose files_manifest.sql this is (from manifest.json beside it)."""
    beside = manifest.parent / "manifest.json"
    try:
        control = json.loads(beside.read_text(encoding="utf-8")).get("control_schema")
    except (OSError, ValueError):
        control = None
    if not control:
        raise DjsqlgenError(f"{beside}: not there or names no control schema; run djsqlgen files on the "
                            "files_manifest.sql of a generated directory (generate writes both)")
    return control


def record(db: Database, control: str, rows: list[dict]) -> bool:
    """Record ``rows`` (files in place) in ``control``'s files_written, in one transaction; False when the control
    schema has no such table (before 20_routines, or after 80_contract dropped it): nothing to record then."""
    if not db.query(recorded_table_sql(), [control])[0]["n"]:
        return False
    statement = record_sql(control)
    db.execute("START TRANSACTION")
    try:
        for row in rows:
            db.execute(statement, [row["store"], row["target_path"], row["md5"]])
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return True
