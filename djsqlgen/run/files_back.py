"""``djsqlgen files --reverse``: write the 0.14 files of the attachments 2.x users wrote (two-way sync).

Each row of ``files_back_manifest.sql`` is a 2.x ``<attach@store>`` value v1 refers to through a ``~external_<store>``
row with no ``attachment_name`` yet (model/external_back.py). 2.x's file (filename, NUL, contents) is only read: its
name goes into 0.14's path, its contents alone are written next to their final name, the md5 of filename, NUL and
what was written checked against 2.x's hash, then renamed into place; only then does the row get the name and the
contents' size, and 0.14 can fetch the attachment. A file already holding the right bytes is left alone, so a run
stopped anywhere is finished by running it again; a named row leaves the manifest.

Each row of ``filepaths_back_manifest.sql`` is a 2.x ``<filepath@store>`` value v1 refers to through a row with no
``contents_hash``: the file, where both versions read it, is only read; its size must be 2.x's (0.14 checks it too),
unchanged over the read, and its md5 fills ``contents_hash``. A filled row leaves the manifest: running it again
resumes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from djsqlgen.engines.files import back_record_sql, filepath_back_record_sql
from djsqlgen.run.db import Database
from djsqlgen.run.files import copy_flushed, md5_of, store_root
from djsqlgen.sqltext.naming import ENGINE_SESSION

NAME_LIMIT = 255  # 0.14's attachment_name is varchar(255)


@dataclass
class BackReport:
    written: int = 0
    present: int = 0
    problems: list[str] = field(default_factory=list)
    in_place: list[tuple[dict, str, int]] = field(default_factory=list)  # (row, file name, contents' size)


def _file_name(source: Path) -> tuple[bytes, int] | None:
    """The file name 2.x put before the NUL, and where the contents start; None when there is no NUL early on."""
    with source.open("rb") as f:
        head = f.read(4 * NAME_LIMIT + 1)  # a name of 255 characters is at most 1,020 bytes in UTF-8
    end = head.find(b"\0")
    return None if end < 0 else (head[:end], end + 1)


def _problem(name: bytes) -> str:
    try:
        text = name.decode("utf-8")
    except UnicodeDecodeError:
        return "its file name is not UTF-8"
    if not text or text in (".", "..") or "/" in text or "\\" in text:
        return f"its file name {text!r} cannot be a file name in 0.14's store"
    if len(text) > NAME_LIMIT:
        return f"its file name is longer than 0.14's attachment_name ({NAME_LIMIT} characters)"
    return ""


def carry_back(rows: list[dict], locations: dict[str, Path], dry_run: bool = False, echo=print) -> BackReport:
    report = BackReport()
    for row in rows:
        root = store_root(row["store"], locations)
        source = root / row["source_path"]
        if not source.is_file():
            report.problems.append(f"{source}: 2.x's file is not there; 0.14 cannot read this attachment")
            continue
        found = _file_name(source)
        if found is None:
            report.problems.append(f"{source}: no file name before a NUL byte; not a 2.x attachment: left alone")
            continue
        name, start = found
        why = _problem(name)
        if why:
            report.problems.append(f"{source}: {why}: left alone")
            continue
        header = name + b"\0"
        target = root / f"{row['target_stem']}.{name.decode('utf-8')}"
        size = source.stat().st_size - start
        if md5_of(target, header) == row["md5"]:
            report.present += 1
            report.in_place.append((row, name.decode("utf-8"), target.stat().st_size))
            continue
        if dry_run:
            echo(f"would write {target} ({size:,} bytes) from {source}")
            report.written += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        # named by the stem alone: a file name that fits the file system must not fail for the partial's suffix
        partial = target.with_name(f"{row['target_stem'].rsplit('/', 1)[-1]}.djsqlgen-partial")
        try:
            written, size = copy_flushed(source, partial, hashed=header, start=start)
        except OSError as exc:
            report.problems.append(f"{source}: cannot copy it ({exc.strerror})")
            continue
        if written != row["md5"] or md5_of(partial, header) != row["md5"]:
            partial.unlink()
            report.problems.append(f"{source}: its contents do not match 2.x's hash ({row['md5']}): left alone")
            continue
        os.replace(partial, target)  # atomic: 0.14 never sees half a file
        report.written += 1
        report.in_place.append((row, name.decode("utf-8"), size))
    return report


def record(db: Database, placed: list[tuple[dict, str, int]]) -> int:
    """Name the ``~external_<store>`` rows of the files in place (one transaction); how many rows it named."""
    return _in_one_transaction(db, [(back_record_sql(row["v1_schema"], row["store"]),
                                     [name, size, row["reference"], row["source_path"]]) for row, name, size in placed])


def _in_one_transaction(db: Database, statements: list[tuple[str, list]]) -> int:
    """Run ``statements`` in one transaction as the engine's session: v1's triggers let it through once v1 is
    closed (sides/close_v1.sql, 70 of a two-way plan), as they let through what v2 carries; rows changed."""
    changed = 0
    db.execute(f"SET {ENGINE_SESSION} = 1")
    try:
        db.execute("START TRANSACTION")
        try:
            for sql, args in statements:
                changed += db.execute(sql, args) or 0
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    finally:
        db.execute(f"SET {ENGINE_SESSION} = NULL")
    return changed


@dataclass
class FilepathReport:
    problems: list[str] = field(default_factory=list)
    in_place: list[tuple[dict, str]] = field(default_factory=list)  # (row, md5 of the file)


def check_filepaths(rows: list[dict], locations: dict[str, Path]) -> FilepathReport:
    """The md5 of each file the rows name, read in place; a file missing, of another size than 2.x recorded, or
    changed while read is a problem, its row left alone."""
    report = FilepathReport()
    for row in rows:
        source = store_root(row["store"], locations) / row["path"]
        if not source.is_file():
            report.problems.append(f"{source}: the file 2.x refers to is not there; 0.14 cannot fetch it")
            continue
        before = source.stat()
        if before.st_size != row["size"]:
            report.problems.append(f"{source}: {before.st_size:,} bytes, 2.x recorded {row['size']:,}: left alone")
            continue
        md5 = md5_of(source)
        after = source.stat()
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            report.problems.append(f"{source}: changed while read: left alone (run again)")
            continue
        report.in_place.append((row, md5))
    return report


def record_filepaths(db: Database, read: list[tuple[dict, str]]) -> int:
    """Fill ``contents_hash`` of the rows whose files were read (one transaction); how many rows it filled."""
    return _in_one_transaction(db, [(filepath_back_record_sql(row["v1_schema"], row["store"]),
                                     [md5, row["reference"], row["path"], row["size"]]) for row, md5 in read])
