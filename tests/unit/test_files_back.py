"""`djsqlgen files --reverse` on files alone (run/files_back.py): what it refuses to write, and that it only reads
2.x's files. The rows are as files_back_manifest.sql gives them; the database side is in
tests/integration/test_two_way_external.py."""

from __future__ import annotations

import hashlib

from djsqlgen.run.files_back import carry_back


def _row(store, name: bytes, contents: bytes, md5: str | None = None) -> dict:
    data = name + b"\0" + contents
    source = store / "_hash" / "lab_v2" / "x"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(data)
    return {"store": "s", "v1_schema": "lab", "reference": "00" * 16, "source_path": "_hash/lab_v2/x",
            "target_stem": "lab/ab/cd/abcd", "md5": md5 or hashlib.md5(data).hexdigest()}


def test_a_2x_attachment_is_written_as_0_14_reads_it_and_2xs_file_is_only_read(tmp_path):
    row = _row(tmp_path, "notes ü.txt".encode(), b"\0binary\xff" * 3)
    before = (tmp_path / row["source_path"]).read_bytes()
    report = carry_back([row], {"s": tmp_path})
    assert (report.written, report.problems) == (1, [])
    assert (tmp_path / "lab/ab/cd/abcd.notes ü.txt").read_bytes() == b"\0binary\xff" * 3  # NULs after the first kept
    assert report.in_place == [(row, "notes ü.txt", 24)]
    assert (tmp_path / row["source_path"]).read_bytes() == before
    again = carry_back([row], {"s": tmp_path})
    assert (again.written, again.present, again.in_place) == (0, 1, [(row, "notes ü.txt", 24)])


def test_a_file_that_does_not_match_its_hash_or_has_no_usable_name_is_left_alone(tmp_path):
    for name, md5, problem in ((b"a.txt", "0" * 32, "do not match 2.x's hash"),
                               (b"../up", None, "cannot be a file name"),
                               (b"\xff\xfe", None, "not UTF-8"),
                               (b"n" * 256, None, "longer than 0.14's attachment_name")):
        report = carry_back([_row(tmp_path, name, b"x", md5)], {"s": tmp_path})
        assert report.written == 0 and report.in_place == [] and problem in report.problems[0], report.problems
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["x"]  # nothing written, no partial left
    row = _row(tmp_path, b"", b"")
    (tmp_path / row["source_path"]).write_bytes(b"no name here")
    assert "no file name before a NUL byte" in carry_back([row], {"s": tmp_path}).problems[0]


def test_a_2x_filepath_is_read_in_place_for_its_md5_and_a_file_not_as_2x_recorded_it_is_left_alone(tmp_path):
    """files --reverse on filepaths_back_manifest.sql: the md5 of each file, read where both versions read it; a
    missing file or one of another size than 2.x's JSON says is a problem, its row left alone; nothing is written."""
    from djsqlgen.run.files_back import check_filepaths

    (tmp_path / "acq").mkdir()
    (tmp_path / "acq" / "a ü.dat").write_bytes(b"\0data\xff" * 5)
    (tmp_path / "acq" / "b.dat").write_bytes(b"longer than recorded")
    rows = [{"store": "s", "v1_schema": "lab", "reference": "00" * 16, "path": path, "size": size}
            for path, size in (("acq/a ü.dat", 30), ("acq/b.dat", 4), ("acq/gone.dat", 1))]
    before = sorted(p.name for p in tmp_path.rglob("*"))
    report = check_filepaths(rows, {"s": tmp_path})
    assert report.in_place == [(rows[0], hashlib.md5(b"\0data\xff" * 5).hexdigest())]
    assert len(report.problems) == 2
    assert "20 bytes, 2.x recorded 4: left alone" in report.problems[0]
    assert "gone.dat: the file 2.x refers to is not there" in report.problems[1]
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
