"""Two-way sync of DataJoint 0.14 external blobs and attachments under the dj014-to-dj2 preset (issue 24): a
`<blob@store>` or `<attach@store>` value a 2.x user writes in v2 reaches v1 as a reference DataJoint 0.14 fetches
(an attachment once `djsqlgen files --reverse` has written 0.14's file), and comes forward again as the JSON 2.x wrote.

DataJoint 2.3.5 cannot insert `<blob@store>` on MariaDB, so the 2.x writes here are 2.x's own codec code (its blob
serialisation or attachment encoding, and its hash store) and an INSERT of the JSON it makes, as the 2.x client
would send it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from contextlib import contextmanager

import pytest
import yaml
from support.engine import run_dj014
from support.safety import FastScenario, steps

from djsqlgen.run.db import ServerError, connect

STORE = "extstore"


def _dj2_store(store) -> None:
    import datajoint as dj

    dj.config["stores"] = {STORE: {"protocol": "file", "location": str(store)}}


def _dj2_json(value, v2_schema: str) -> str:
    """What DataJoint 2.x stores in a `<blob@extstore>` column for ``value``, its file written into the store."""
    from datajoint.builtin_codecs.blob import BlobCodec
    from datajoint.hash_registry import put_hash

    return json.dumps(put_hash(BlobCodec().encode(value), schema_name=v2_schema, store_name=STORE))


def _dj2_read(text: str):
    from datajoint.builtin_codecs.blob import BlobCodec
    from datajoint.hash_registry import get_hash

    return BlobCodec().decode(get_hash(json.loads(text)))


def _value(n: int):  # as dj014_blobs.py's
    import numpy as np

    return np.arange(12, dtype=np.float64).reshape(3, 4) * (n % 3)


def _extra(n: int):
    return None if n % 2 else {"n": n % 3, "tag": "x"}


@contextmanager
def _two_clients(server_settings, lock_wait: int):
    """Two connections, each in a transaction begun, closed after."""
    clients = connect(server_settings), connect(server_settings)
    try:
        for c in clients:
            c.execute(f"SET SESSION innodb_lock_wait_timeout = {lock_wait}")
            c.execute("BEGIN")
        yield clients
    finally:
        for c in clients:
            c.close()


def _error(db, sql: str, args) -> tuple[int, str]:
    try:
        db.execute(sql, args)
    except ServerError as exc:
        return exc.errno, exc.message
    return 0, ""


def _plain(v):  # as dj014_blobs.py's
    import numpy as np

    if isinstance(v, np.ndarray):
        return [str(v.dtype), list(v.shape), v.tolist()]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v.item() if isinstance(v, np.generic) else v


def test_dj2_blob_at_store_written_on_v2_is_fetched_by_dj014_on_v1(tmp_path, prefix, dj014_python, dj_env, db,
                                                                   server_settings):
    import numpy as np

    s = FastScenario(db, prefix, dj_env, tmp_path, schemas=("scans",))
    (v1,) = s.sources
    v2 = f"{v1}_v2"
    store = tmp_path / "store"
    store.mkdir()
    blobs = ["--schema", v1, "--store-dir", str(store)]
    run_dj014(dj014_python, "dj014_blobs.py", ["build", *blobs], dj_env)
    s.run("plan", "init", "--preset", "dj014-to-dj2", "--schema", f"{v1}={v2}", "--name", s.prefix, "-o",
          str(s.plan_path))
    plan = yaml.safe_load(s.plan_path.read_text())
    plan.update(control_schema=s.control, sync="two-way", chunk={"rows": 2, "sleep_ms": 0, "verify_rows": 3})
    s.plan_path.write_text(yaml.safe_dump(plan, sort_keys=False))
    checked = s.run("plan", "check", str(s.plan_path)).stderr
    for table in ("scan", "scan__frame"):  # both blob tables sync both ways
        assert f"sync: {v2}.{table} <-> {v1}.{table}: two-way" in checked, checked
    s.generate()
    s.forward("50_verify")
    # before 60 a 2.x write is refused (W6), its ~external row with it
    _dj2_store(store)
    early = _dj2_json(np.full(2, 3.0), v2)
    count = f"SELECT COUNT(*) AS n FROM `{v1}`.`~external_{STORE}`"
    rows_before = db.query(count)
    errno, message = _error(db, f"INSERT INTO `{v2}`.scan (scan_id, data) VALUES (9, %s)", [early])
    assert errno == 1644 and "W6" in message, message
    assert db.query(count) == rows_before
    s.forward("60_constraints", first="60_constraints")

    # a 2.x user on v2: a content v1 already holds (scan 10, n % 3 == 1), a new one written twice (scans 11 and 14:
    # one file, one ~external row), a part row, an update of a blob, a NULL
    before = {r["h"] for r in db.query(f"SELECT HEX(hash) AS h FROM `{v1}`.`~external_{STORE}`")}
    written = {}
    for n, data in ((10, _value(10)), (11, np.full((2, 2), 7.5)), (14, np.full((2, 2), 7.5))):
        written[n] = _dj2_json(data, v2), None if _extra(n) is None else _dj2_json(_extra(n), v2)
        db.execute(f"INSERT INTO `{v2}`.scan (scan_id, data, extra) VALUES (%s, %s, %s)", [n, *written[n]])
    frame = _dj2_json(np.arange(5, dtype=np.int32), v2)
    db.execute(f"INSERT INTO `{v2}`.scan__frame (scan_id, frame, image) VALUES (10, 0, %s)", [frame])
    updated = _dj2_json(_value(1) * 9, v2)
    db.execute(f"UPDATE `{v2}`.scan SET data = %s WHERE scan_id = 1", [updated])
    db.execute(f"UPDATE `{v2}`.scan SET extra = NULL WHERE scan_id = 2")

    # a JSON written by hand that is neither 2.x's own copy nor a value carried from v1 is refused, naming the column
    alien = json.dumps({**json.loads(written[11][0]), "schema": "elsewhere"})
    errno, message = _error(db, f"INSERT INTO `{v2}`.scan (scan_id, data) VALUES (60, %s)", [alien])
    assert errno == 1644 and "W5" in message and "(data)" in message and len(message) <= 128, message

    # v2 holds the JSON 2.x wrote, byte for byte (the forward triggers' echo left it)
    v2_rows = {r["scan_id"]: (r["data"], r["extra"]) for r in db.query(f"SELECT * FROM `{v2}`.scan")}
    for n, pair in written.items():
        assert v2_rows[n] == pair, (n, v2_rows[n], pair)
    assert v2_rows[1][0] == updated and v2_rows[2][1] is None

    # v1: a reference per value, and a ~external row of its own for each 2.x copy (keyed by the md5 of its path,
    # the path in `filepath`); 0.14's rows untouched
    rows = {r["h"]: r for r in db.query(
        f"SELECT HEX(hash) AS h, size, filepath, attachment_name, contents_hash FROM `{v1}`.`~external_{STORE}`")}
    assert before <= set(rows)
    native = {h: r for h, r in rows.items() if h not in before}
    paths = {json.loads(j)["path"] for j in (*(j for pair in written.values() for j in pair), frame, updated) if j}
    assert {r["filepath"] for r in native.values()} == paths, native  # scan 14's value is scan 11's: one row
    for r in native.values():
        assert r["h"].lower() == hashlib.md5(r["filepath"].encode()).hexdigest(), r
        assert r["attachment_name"] is None and r["contents_hash"] is None
        assert r["size"] == (store / r["filepath"]).stat().st_size
    refs = {r["scan_id"]: r["h"] for r in db.query(f"SELECT scan_id, HEX(data) AS h FROM `{v1}`.scan")}
    assert refs[11] == refs[14] and refs[11] in native

    # DataJoint 0.14 fetches from v1 what 2.x wrote (and what it wrote itself); 2.x reads v2 alike
    by_014 = json.loads(run_dj014(dj014_python, "dj014_blobs.py", ["read", *blobs], dj_env).splitlines()[-1])
    expected = {f"scan {n}": [_plain(_value(n)), _plain(_extra(n))] for n in (1, 2, 3, 4)}
    expected |= {f"frame {n}.{f}": [_plain(_value(n + f))] for n in (1, 2, 3, 4) for f in (0, 1)}
    expected |= {f"scan {n}": [_plain(data), _plain(extra)] for n, (data, extra) in
                 ((10, (_value(10), _extra(10))), (11, (np.full((2, 2), 7.5), None)), (14, (np.full((2, 2), 7.5),
                                                                                          _extra(14))))}
    expected |= {"frame 10.0": [_plain(np.arange(5, dtype=np.int32))],
                 "scan 1": [_plain(_value(1) * 9), _plain(_extra(1))], "scan 2": [_plain(_value(2)), None]}
    assert by_014 == expected, by_014
    for n, (data, extra) in ((11, (np.full((2, 2), 7.5), None)), (1, (_value(1) * 9, _extra(1)))):
        assert _plain(_dj2_read(v2_rows[n][0])) == _plain(data)

    # a key move on v2 with a part row below (v2's ON UPDATE CASCADE, v1's moves its own): the values go along
    db.execute(f"UPDATE `{v2}`.scan SET scan_id = 12 WHERE scan_id = 10")
    moved = db.query(f"SELECT s.scan_id, HEX(s.data) AS d, HEX(f.image) AS i FROM `{v1}`.scan s "
                     f"JOIN `{v1}`.scan__frame f USING (scan_id) WHERE s.scan_id IN (10, 12)")
    assert moved == [{"scan_id": 12, "d": refs[10], "i": hashlib.md5(json.loads(frame)["path"].encode()).hexdigest()
                      .upper()}], moved
    db.execute(f"UPDATE `{v2}`.scan SET scan_id = 10 WHERE scan_id = 12")

    # a 0.14 user's write after them reaches v2 in 0.14's form; a v2 delete leaves v1's ~external rows to 0.14
    run_dj014(dj014_python, "dj014_blobs.py", ["insert", *blobs, "--scan", "20"], dj_env)
    assert np.array_equal(_dj2_read(db.query(f"SELECT data FROM `{v2}`.scan WHERE scan_id = 20")[0]["data"]),
                          _value(20))
    db.execute(f"DELETE FROM `{v2}`.scan__frame WHERE scan_id = 11")
    db.execute(f"DELETE FROM `{v2}`.scan WHERE scan_id IN (11, 14)")
    assert db.query(f"SELECT COUNT(*) AS n FROM `{v1}`.scan WHERE scan_id IN (11, 14)") == [{"n": 0}]
    assert set(rows) <= {r["h"] for r in db.query(f"SELECT HEX(hash) AS h FROM `{v1}`.`~external_{STORE}`")}

    # two 2.x clients writing the same new value at once: the second waits for the first's ~external row, then uses
    # it (no deadlock, no duplicate)
    same = _dj2_json(np.full(3, 2.25), v2)
    insert = f"INSERT INTO `{v2}`.scan (scan_id, data) VALUES (%s, %s)"
    failures: list = []
    with _two_clients(server_settings, lock_wait=20) as (first, second):
        steps(first, [(insert, [30, same])], failures)
        waiting = threading.Thread(target=steps, args=(second, [(insert, [31, same]), ("COMMIT", None)], failures))
        waiting.start()
        waiting.join(timeout=1)
        assert waiting.is_alive()  # it waits for the first's uncommitted row
        steps(first, [("COMMIT", None)], failures)
        waiting.join()
    assert failures == [], failures
    # and different new values at once: neither waits for the other (the insert reads nothing first)
    news = [_dj2_json(np.full(4, float(k)), v2) for k in range(40, 46)]
    with _two_clients(server_settings, lock_wait=3) as clients:
        for k, value in enumerate(news):  # interleaved, each client's rows in its own transaction
            steps(clients[k % 2], [(insert, [40 + k, value])], failures)
        for c in clients:
            steps(c, [("COMMIT", None)], failures)
    assert failures == [], failures
    # a transaction whose snapshot is older than another's insert of the same new value: its snapshot does not show
    # that ~external row, but the echo into the v2 table its statement writes is not compared (the statement mark,
    # engines/two_way.py), so nothing reads it there and the write passes (it failed with W0, 1442, while the echo
    # was compared), and v1's row refers to the one ~external row
    late = _dj2_json(np.full(2, -1.0), v2)
    with _two_clients(server_settings, lock_wait=3) as (first, second):
        second.query(f"SELECT COUNT(*) AS n FROM `{v2}`.scan")  # its snapshot
        steps(first, [(insert, [50, late]), ("COMMIT", None)], failures)
        steps(second, [(insert, [51, late]), ("COMMIT", None)], failures)
    assert failures == [], failures
    late_ref = hashlib.md5(json.loads(late)["path"].encode()).hexdigest().upper()
    assert db.query(f"SELECT HEX(data) AS h FROM `{v1}`.scan WHERE scan_id IN (50, 51)") == [{"h": late_ref}] * 2
    ref = hashlib.md5(json.loads(same)["path"].encode()).hexdigest().upper()
    assert db.query(f"SELECT HEX(data) AS h FROM `{v1}`.scan WHERE scan_id IN (30, 31)") == [{"h": ref}] * 2
    assert db.query(f"SELECT COUNT(*) AS n FROM `{v1}`.`~external_{STORE}` WHERE HEX(hash) = %s", [ref]) == [{"n": 1}]

    verified = s.verify()
    assert verified.returncode == 0 and "v1 from v2" in verified.stdout, verified.stdout


def _dj2_attach(path, v2_schema: str) -> str:
    """What DataJoint 2.x stores in an `<attach@extstore>` column for the file at ``path``, its file written."""
    from datajoint.builtin_codecs.attach import AttachCodec
    from datajoint.hash_registry import put_hash

    return json.dumps(put_hash(AttachCodec().encode(str(path)), schema_name=v2_schema, store_name=STORE))


def _store_files(store) -> dict[str, str]:
    """Every file under the store's 2.x part (``_hash/``) with the md5 of its bytes."""
    return {str(p.relative_to(store)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted((store / "_hash").rglob("*")) if p.is_file()}


def test_dj2_attach_at_store_written_on_v2_is_fetched_by_dj014_on_v1(tmp_path, prefix, dj014_python, dj_env, db):
    from support.safety import refused

    s = FastScenario(db, prefix, dj_env, tmp_path, schemas=("docs",))
    (v1,) = s.sources
    v2 = f"{v1}_v2"
    store, files = tmp_path / "store", tmp_path / "files"
    store.mkdir()
    args = ["--schema", v1, "--store-dir", str(store), "--files", str(files)]
    run_dj014(dj014_python, "dj014_attach.py", ["build", *args], dj_env)
    s.run("plan", "init", "--preset", "dj014-to-dj2", "--schema", f"{v1}={v2}", "--name", s.prefix, "-o",
          str(s.plan_path))
    plan = yaml.safe_load(s.plan_path.read_text())
    plan.update(control_schema=s.control, sync="two-way", chunk={"rows": 2, "sleep_ms": 0, "verify_rows": 3})
    s.plan_path.write_text(yaml.safe_dump(plan, sort_keys=False))
    checked = s.run("plan", "check", str(s.plan_path)).stderr
    assert f"sync: {v2}.doc <-> {v1}.doc: two-way" in checked, checked
    s.generate()
    back = s.out / "files_back_manifest.sql"
    forward_files = ["files", str(s.out / "files_manifest.sql"), "--store", f"{STORE}={store}"]
    reverse_files = ["files", "--reverse", str(back), "--store", f"{STORE}={store}"]
    s.forward("60_constraints")
    assert "wrote 3," in s.run(*forward_files).stderr  # 0.14's attachments, for 2.x (docs 1 and 3 share two)

    _dj2_store(store)
    # 2.x users on v2: a new file (doc 10), the same again and another (doc 11), an update of a 0.14 doc's file
    # (doc 2), and a file 0.14 attached too (doc 12: 2.x's own copy, a row of its own)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "minutes.txt").write_text("minutes\n" * 40)
    (mine / "todo ü.md").write_text("- one\n- two\n")
    (mine / "new-report.txt").write_text("a report 2.x wrote\n")
    written = {10: (_dj2_attach(mine / "minutes.txt", v2), None),
               11: (_dj2_attach(mine / "minutes.txt", v2), _dj2_attach(mine / "todo ü.md", v2)),
               12: (_dj2_attach(files / "1" / "report-1.txt", v2), None)}
    for n, (report, notes) in written.items():
        db.execute(f"INSERT INTO `{v2}`.doc (doc_id, report, notes) VALUES (%s, %s, %s)", [n, report, notes])
    updated = _dj2_attach(mine / "new-report.txt", v2)
    db.execute(f"UPDATE `{v2}`.doc SET report = %s WHERE doc_id = 2", [updated])
    written[2] = (updated, None)
    alien = json.dumps({**json.loads(updated), "schema": "elsewhere"})
    errno, message = _error(db, f"INSERT INTO `{v2}`.doc (doc_id, report) VALUES (60, %s)", [alien])
    assert errno == 1644 and "W5" in message and "(report)" in message and len(message) <= 128, message
    theirs = _store_files(store)  # 2.x's files: djsqlgen only reads them

    # v2 keeps the JSON 2.x wrote; v1 refers to a ~external row per 2.x file, keyed by the md5 of its path, not yet
    # named (0.14 reads an attachment by its name, which only 2.x's file holds) and of 2.x's size
    def v2_json():
        return {r["doc_id"]: (r["report"], r["notes"]) for r in db.query(f"SELECT * FROM `{v2}`.doc")}

    assert {n: v2_json()[n] for n in written} == written
    paths = {json.loads(j)["path"]: json.loads(j)["size"] for pair in written.values() for j in pair if j}
    assert len(paths) == 4
    ext = f"`{v1}`.`~external_{STORE}`"
    rows = {r["filepath"]: r for r in db.query(f"SELECT HEX(hash) AS h, size, attachment_name, filepath FROM {ext} "
                                               "WHERE filepath IS NOT NULL")}
    assert set(rows) == set(paths)
    for path, r in rows.items():
        assert r["h"].lower() == hashlib.md5(path.encode()).hexdigest() and r["attachment_name"] is None
        assert r["size"] == paths[path]
    refs = {r["doc_id"]: r["h"] for r in db.query(f"SELECT doc_id, HEX(report) AS h FROM `{v1}`.doc")}
    assert refs[10] == refs[11] == rows[json.loads(written[10][0])["path"]]["h"]

    # meanwhile 0.14 cannot fetch them (its fetch fails), and 70 refuses
    def read_014(*more: str) -> dict:
        return json.loads(run_dj014(dj014_python, "dj014_attach.py", ["read", *args, *more], dj_env).splitlines()[-1])

    early = read_014("--doc", "10")
    assert "NoneType" in early["doc 10"], early
    assert read_014("--doc", "1")["doc 1"][0][0] == "report-1.txt"
    listed = db.query(back.read_text().strip().rstrip(";"))
    assert len(listed) == 4 and {r["source_path"] for r in listed} == set(paths)
    s.verify()
    assert "djsqlgen files --reverse" in refused(s, "70_cutover")

    # `djsqlgen files --reverse`: a dry run writes nothing; a run stopped after one file was put in place (and
    # another left half written) is finished by the next
    assert "would write 4," in s.run(*reverse_files, "--dry-run").stderr
    stopped = next(r for r in listed if r["source_path"] == json.loads(written[10][0])["path"])
    (store / (stopped["target_stem"] + ".minutes.txt")).parent.mkdir(parents=True, exist_ok=True)
    (store / (stopped["target_stem"] + ".minutes.txt")).write_text("minutes\n" * 40)
    other = next(r for r in listed if r["source_path"] == json.loads(written[2][0])["path"])
    (store / (other["target_stem"] + ".new-report.txt")).parent.mkdir(parents=True, exist_ok=True)
    (store / (other["target_stem"] + ".new-report.txt")).write_text("a rep")
    done = s.run(*reverse_files).stderr
    assert "wrote 3, 1 already in place, 0 problem(s)" in done and "4 ~external row(s) named" in done, done
    again = s.run(*reverse_files).stderr
    assert "0 2.x attachment(s) in the manifest" in again, again
    assert _store_files(store) == theirs  # 2.x's files untouched
    assert not list(store.rglob("*.djsqlgen-partial"))

    # the rows are named, of the contents' size; v2's JSON is what 2.x wrote still; 0.14 and 2.x read the same
    named = {r["filepath"]: r for r in db.query(f"SELECT size, attachment_name, filepath FROM {ext} "
                                                "WHERE filepath IS NOT NULL")}
    assert {p: (r["attachment_name"], r["size"]) for p, r in named.items()} == {
        p: (name, paths[p] - len(name.encode()) - 1) for p, name in
        ((json.loads(written[10][0])["path"], "minutes.txt"), (json.loads(written[11][1])["path"], "todo ü.md"),
         (json.loads(written[2][0])["path"], "new-report.txt"), (json.loads(written[12][0])["path"], "report-1.txt"))}
    assert {n: v2_json()[n] for n in written} == written
    by_014 = read_014()
    mine_text = {name: (mine / name).read_text() for name in ("minutes.txt", "todo ü.md", "new-report.txt")}
    assert by_014["doc 10"] == [["minutes.txt", mine_text["minutes.txt"]], None]
    assert by_014["doc 11"] == [["minutes.txt", mine_text["minutes.txt"]], ["todo ü.md", mine_text["todo ü.md"]]]
    assert by_014["doc 2"] == [["new-report.txt", mine_text["new-report.txt"]], None]
    assert by_014["doc 12"] == by_014["doc 3"][:1] + [None] and by_014["doc 1"] == by_014["doc 3"]
    from datajoint.hash_registry import get_hash

    assert get_hash(json.loads(v2_json()[11][1])) == "todo ü.md".encode() + b"\0" + mine_text["todo ü.md"].encode()

    # a 0.14 user's attachment after them reaches v2 in 0.14's form; then verify both ways, and 70 passes
    run_dj014(dj014_python, "dj014_attach.py", ["insert", *args, "--doc", "20"], dj_env)
    assert json.loads(v2_json()[20][0])["schema"] == v1
    assert "0 problem(s)" in s.run(*forward_files).stderr  # (doc 20 attaches doc 2's first file: in place)
    verified = s.verify()
    assert verified.returncode == 0 and "v1 from v2" in verified.stdout, verified.stdout
    s.forward("70_cutover", first="70_cutover")


def test_md5_from_base32_inverts_base32_md5_on_the_server(db):
    """The way back reads 0.14's md5 out of 2.x's hash with SQL of its own: every byte value at every place."""
    import base64
    import random

    from djsqlgen.presets import dj2_sql

    rng = random.Random(24)
    digests = [bytes(16), b"\xff" * 16, *(bytes((i + k) % 256 for k in range(16)) for i in range(0, 256, 16)),
               *(rng.randbytes(16) for _ in range(200))]
    for raw in digests:
        b32 = base64.b32encode(raw).decode().lower().rstrip("=")  # as DataJoint 2.x writes it
        db.execute("SET @b32 = %s, @md5 = %s", [b32, raw])
        (row,) = db.query(f"SELECT {dj2_sql.md5_from_base32('@b32')} AS back, {dj2_sql.base32_md5('@md5')} AS forth")
        assert (row["back"], row["forth"]) == (raw, b32), b32
    assert db.query(f"SELECT {dj2_sql.md5_from_base32('NULL')} AS back") == [{"back": None}]


def _dj2_filepath(path: str, store: str = STORE) -> str:
    """What DataJoint 2.x stores in a `<filepath@extstore>` column for ``path`` (relative to the store's location):
    its own codec's metadata, as its insert sends it (json.dumps)."""
    from datajoint.builtin_codecs.filepath import FilepathCodec

    return json.dumps(FilepathCodec().encode(path, store_name=store))


def _all_files(root) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_dj2_filepath_at_store_written_on_v2_is_fetched_by_dj014_on_v1(tmp_path, prefix, dj014_python, dj_env, db,
                                                                       server_settings):
    """A 2.x `<filepath@store>` goes back (it stayed one-way before: 2.x's JSON has no md5 of the file, and a
    timestamp with microseconds): v1 refers to a ~external row keyed by the md5 of the path; DataJoint 0.14 fetches
    the file, its checksum accepted, once `djsqlgen files --reverse` has filled contents_hash; v2 keeps the JSON 2.x
    wrote byte for byte (kept in the control schema), through the forward triggers' recompute and verify."""
    import datajoint as dj
    from support.safety import refused

    s = FastScenario(db, prefix, dj_env, tmp_path, schemas=("recs",))
    (v1,) = s.sources
    v2 = f"{v1}_v2"
    store, stage = tmp_path / "store", tmp_path / "stage"
    store.mkdir()
    args = ["--schema", v1, "--store-dir", str(store)]
    run_dj014(dj014_python, "dj014_filepath.py", ["build", *args, "--stage", str(stage)], dj_env)
    s.run("plan", "init", "--preset", "dj014-to-dj2", "--schema", f"{v1}={v2}", "--name", s.prefix, "-o",
          str(s.plan_path))
    plan = yaml.safe_load(s.plan_path.read_text())
    plan.update(control_schema=s.control, sync="two-way", chunk={"rows": 2, "sleep_ms": 0, "verify_rows": 3})
    s.plan_path.write_text(yaml.safe_dump(plan, sort_keys=False))
    checked = s.run("plan", "check", str(s.plan_path)).stderr
    assert f"sync: {v2}.rec <-> {v1}.rec: two-way" in checked, checked  # (one-way before, the reason its JSON)
    s.generate()
    back = s.out / "filepaths_back_manifest.sql"
    reverse_files = ["files", "--reverse", str(back), "--store", f"{STORE}={store}"]
    s.forward("60_constraints")

    _dj2_store(store)
    # 2.x users on v2, on files in the store: a new file (rec 10), the same path again with 2.x's metadata as
    # stored (rec 11), a path with a non-ASCII name (json.dumps escapes it) as an update of a 0.14 rec (rec 2), and
    # the file of a 0.14 rec with its JSON as v2 shows it (rec 12)
    mine = store / "mine"
    mine.mkdir()
    (mine / "a.dat").write_text("a file 2.x refers to\n" * 30)
    (mine / "b ü.dat").write_text("another\n")
    (mine / "folder").mkdir()
    v2_json = {r["rec_id"]: (r["raw"], r["extra"]) for r in db.query(f"SELECT * FROM `{v2}`.rec")}
    written = {10: (_dj2_filepath("mine/a.dat"), None)}
    written[11] = (written[10][0], None)
    written[12] = (v2_json[1][1], None)
    for n, (raw, extra) in written.items():
        db.execute(f"INSERT INTO `{v2}`.rec (rec_id, raw, extra) VALUES (%s, %s, %s)", [n, raw, extra])
    updated = _dj2_filepath("mine/b ü.dat")
    db.execute(f"UPDATE `{v2}`.rec SET raw = %s WHERE rec_id = 2", [updated])
    written[2] = (updated, v2_json[2][1])
    assert "\\u00fc" in updated and json.loads(written[10][0])["timestamp"][19] == "."  # (microseconds)

    # what v1 cannot give back is refused, naming the column: the same path with other metadata (2.x's new
    # timestamp; 0.14 keeps one row per path), a directory, a file of another store
    for n, value, why in ((13, _dj2_filepath("mine/a.dat"), "another size or time"),
                          (14, _dj2_filepath("acq/1/raw-1.dat"), "another size or time"),
                          (15, _dj2_filepath("mine/folder"), "file v1 can refer to"),
                          (16, json.dumps({**json.loads(updated), "store": "other"}), "file v1 can refer to")):
        errno, message = _error(db, f"INSERT INTO `{v2}`.rec (rec_id, raw) VALUES (%s, %s)", [n, value])
        assert errno == 1644 and "W5" in message and "(raw)" in message and why in message, (n, message)
        assert len(message) <= 128, message
    theirs = _all_files(store)  # the store's files: djsqlgen only reads them

    # v2 keeps the JSON 2.x wrote, byte for byte; v1 refers to one ~external row per path, keyed by its md5, of the
    # file's size, with no contents_hash yet
    def v2_now():
        return {r["rec_id"]: (r["raw"], r["extra"]) for r in db.query(f"SELECT * FROM `{v2}`.rec")}

    assert {n: v2_now()[n] for n in written} == written
    ext = f"`{v1}`.`~external_{STORE}`"
    rows = {r["filepath"]: r for r in db.query(f"SELECT HEX(hash) AS h, size, filepath, contents_hash FROM {ext} "
                                               "WHERE filepath LIKE 'mine/%%'")}
    assert set(rows) == {"mine/a.dat", "mine/b ü.dat"}
    for path, r in rows.items():
        assert r["h"].lower() == hashlib.md5(path.encode()).hexdigest() and r["contents_hash"] is None
        assert r["size"] == (store / path).stat().st_size
    refs = {r["rec_id"]: (r["h"], r["x"]) for r in db.query(f"SELECT rec_id, HEX(raw) AS h, HEX(extra) AS x "
                                                            f"FROM `{v1}`.rec")}
    assert refs[10] == refs[11] == (rows["mine/a.dat"]["h"], None)
    assert refs[12] == (refs[1][1], None) and refs[1][1] is not None  # 0.14's own row

    # meanwhile 0.14's fetch of a 2.x filepath fails its checksum, and 70 refuses
    def read_014(*more: str) -> dict:
        fresh = tmp_path / f"fetched{len(list(tmp_path.glob('fetched*')))}"  # each read downloads and checks
        return json.loads(run_dj014(dj014_python, "dj014_filepath.py", ["read", *args, "--stage", str(fresh), *more],
                                    dj_env).splitlines()[-1])

    assert "checksum" in read_014("--rec", "10")["rec 10"]
    listed = db.query(back.read_text().strip().rstrip(";"))
    assert {r["path"] for r in listed} == set(rows)
    s.verify()
    assert "filepaths_back_manifest.sql" in refused(s, "70_cutover")

    # `djsqlgen files --reverse`: a file changed since 2.x recorded it is a problem, left alone, the others filled;
    # the next run, the file as recorded again, resumes
    (mine / "b ü.dat").write_text("changed\n!!")
    stopped = s.run(*reverse_files, check=False)
    assert stopped.returncode == 1 and "2.x recorded 8" in stopped.stderr, stopped.stderr
    assert "1 ~external row(s) given contents_hash" in stopped.stderr, stopped.stderr
    (mine / "b ü.dat").write_text("another\n")
    theirs = _all_files(store)
    assert "1 ~external row(s) given contents_hash" in s.run(*reverse_files).stderr
    assert "0 2.x filepath(s) in the manifest" in s.run(*reverse_files).stderr
    assert _all_files(store) == theirs  # nothing written in the store
    filled = {r["filepath"]: r["c"] for r in db.query(f"SELECT filepath, LOWER(HEX(contents_hash)) AS c FROM {ext} "
                                                      "WHERE filepath LIKE 'mine/%%'")}
    assert filled == {p: hashlib.md5((store / p).read_bytes()).hexdigest() for p in rows}

    # 0.14 fetches every rec, checksum accepted, the files 2.x named; v2 still holds what 2.x wrote
    by_014 = read_014()
    text = {p: (store / p).read_text() for p in ("mine/a.dat", "mine/b ü.dat", "acq/1/extra-1.dat")}
    assert by_014["rec 10"] == by_014["rec 11"] == [["mine/a.dat", text["mine/a.dat"]], None]
    assert by_014["rec 2"][0] == ["mine/b ü.dat", text["mine/b ü.dat"]]
    assert by_014["rec 12"] == [["acq/1/extra-1.dat", text["acq/1/extra-1.dat"]], None]
    assert by_014["rec 1"][1] == by_014["rec 12"][0]
    assert {n: v2_now()[n] for n in written} == written
    # a v1 write to a row 2.x wrote recomputes its v2 row: the JSON kept comes back, byte for byte
    db.execute(f"UPDATE `{v1}`.rec SET extra = raw WHERE rec_id = 10")
    assert v2_now()[10] == (written[10][0], written[10][0])
    db.execute(f"UPDATE `{v1}`.rec SET extra = NULL WHERE rec_id = 10")
    assert dj.__version__.startswith("2.") and v2_now()[10] == written[10]

    # DataJoint 2.3 itself (its insert of <filepath@store> works on MariaDB): insert1 and update1 of new files, and
    # its fetch of them on v2; then verify both ways
    (mine / "h.dat").write_text("2.3's own insert\n")
    (mine / "i.dat").write_text("2.3's own update\n")
    for key, value in (("database.host", dj_env["DJ_HOST"]), ("database.port", int(dj_env["DJ_PORT"])),
                       ("database.user", dj_env["DJ_USER"]), ("database.password", dj_env["DJ_PASS"]),
                       ("safemode", False)):
        dj.config[key] = value
    rec2 = dj.FreeTable(dj.conn(reset=True), f"`{v2}`.`rec`")
    (mine / "j.dat").write_text("2.3's extra\n")
    rec2.insert1({"rec_id": 60, "raw": "mine/h.dat", "extra": "mine/j.dat"})
    rec2.update1({"rec_id": 60, "raw": "mine/i.dat"})
    fetched = (rec2 & {"rec_id": 60}).fetch1()
    assert (fetched["raw"].read(), fetched["extra"].read()) == (b"2.3's own update\n", b"2.3's extra\n")
    # its insert of a path v1 holds already: 2.3 stamps it anew, and v1 keeps one row per path: refused, named
    with pytest.raises(Exception) as again:
        rec2.insert1({"rec_id": 61, "raw": "mine/a.dat"})
    assert "W5" in str(again.value) and "(raw)" in str(again.value), again.value
    dj.conn().close()
    written[60] = v2_now()[60]
    assert [json.loads(j)["path"] for j in written[60]] == ["mine/i.dat", "mine/j.dat"]
    verified = s.verify()
    assert verified.returncode == 0 and "v1 from v2" in verified.stdout, verified.stdout

    # two 2.x clients at once: the same new value (the second waits for the first's ~external row, then uses it);
    # the same new path with its own timestamp (waits, then refused: one row per path); different new paths
    # (neither waits); a transaction whose snapshot is older than another's insert of the same value
    for name in ("c.dat", "d.dat", "e.dat", "f.dat", "g.dat"):
        (mine / name).write_text(f"{name}\n" * 3)
    insert = f"INSERT INTO `{v2}`.rec (rec_id, raw) VALUES (%s, %s)"
    same, failures = _dj2_filepath("mine/c.dat"), []
    for second_value, expected in ((same, []), (_dj2_filepath("mine/c.dat"), ["another size or time"])):
        db.execute(f"DELETE FROM `{v2}`.rec WHERE rec_id IN (30, 31)")
        with _two_clients(server_settings, lock_wait=20) as (first, second):
            steps(first, [(insert, [30, same])], failures)
            waiting = threading.Thread(target=steps, args=(second, [(insert, [31, second_value]), ("COMMIT", None)],
                                                           failures))
            waiting.start()
            waiting.join(timeout=1)
            assert waiting.is_alive()  # it waits for the first's uncommitted row
            steps(first, [("COMMIT", None)], failures)
            waiting.join()
        assert [(errno, why in message) for (errno, message), why in zip(failures, expected)] == [
            (1644, True)] * len(expected) and len(failures) == len(expected), failures
        failures.clear()
    news = [_dj2_filepath(f"mine/{name}") for name in ("d.dat", "e.dat", "f.dat")]
    with _two_clients(server_settings, lock_wait=3) as clients:
        for k, value in enumerate(news):  # interleaved, each client's rows in its own transaction
            steps(clients[k % 2], [(insert, [40 + k, value])], failures)
        for c in clients:
            steps(c, [("COMMIT", None)], failures)
    late = _dj2_filepath("mine/g.dat")
    with _two_clients(server_settings, lock_wait=3) as (first, second):
        second.query(f"SELECT COUNT(*) AS n FROM `{v2}`.rec")  # its snapshot
        steps(first, [(insert, [50, late]), ("COMMIT", None)], failures)
        steps(second, [(insert, [51, late]), ("COMMIT", None)], failures)
    assert failures == [], failures
    written.update({30: (same, None), 40: (news[0], None), 41: (news[1], None), 42: (news[2], None),
                    50: (late, None), 51: (late, None)})
    assert {n: v2_now()[n] for n in written} == written
    assert 31 not in v2_now()
    assert db.query(f"SELECT COUNT(*) AS n FROM {ext} WHERE filepath LIKE 'mine/%%'") == [{"n": 10}]
    # (h.dat's row too, which no v1 row uses since 2.3's update1: left off the manifest)
    assert "7 ~external row(s) given contents_hash" in s.run(*reverse_files).stderr
    by_014 = read_014()
    assert by_014["rec 30"] == [["mine/c.dat", "c.dat\n" * 3], None] and by_014["rec 51"] == by_014["rec 50"]
    assert by_014["rec 60"] == [["mine/i.dat", "2.3's own update\n"], ["mine/j.dat", "2.3's extra\n"]]

    # a 0.14 user's filepath after them reaches v2 in 0.14's form; verify both ways, and 70 passes
    run_dj014(dj014_python, "dj014_filepath.py", ["insert", *args, "--stage", str(stage), "--rec", "20"], dj_env)
    assert json.loads(v2_now()[20][0])["path"] == "acq/0/raw-0.dat"
    verified = s.verify()
    assert verified.returncode == 0 and "v1 from v2" in verified.stdout, verified.stdout
    s.forward("70_cutover", first="70_cutover")

    # v1 closed by 70 (its clients refused): v2's new values still reach it, their `~external` rows included (the
    # guard on that table refused what v2 carried there), and `djsqlgen files --reverse` still fills them (it was
    # refused too, W8)
    (mine / "k.dat").write_text("written once v1 is closed\n")
    db.execute(f"INSERT INTO `{v2}`.rec (rec_id, raw) VALUES (70, %s)", [_dj2_filepath("mine/k.dat")])
    errno, message = _error(db, f"UPDATE `{v1}`.rec SET extra = NULL WHERE rec_id = %s", [70])
    assert errno == 1644 and "W8" in message, message  # v1's own clients are refused
    assert "1 ~external row(s) given contents_hash" in s.run(*reverse_files).stderr
    assert db.query(f"SELECT LOWER(HEX(contents_hash)) AS c FROM {ext} WHERE filepath = 'mine/k.dat'") == [
        {"c": hashlib.md5((store / "mine/k.dat").read_bytes()).hexdigest()}]
    assert read_014("--rec", "70")["rec 70"] == [["mine/k.dat", "written once v1 is closed\n"], None]
