"""Messages a v1 writer's client receives from a dual-write trigger: within the 128 characters of a SIGNAL.

MySQL keeps MESSAGE_TEXT as VARCHAR(128) (a longer text under the files' strict sql_mode is an error of its own)
and the triggers' handler passes on at most 128 characters. So each message leads with a code that names its
RUNBOOK section ("Writes refused during the migration"), then the table and key, then what to do; a long table
or key name is shortened (its end kept: the table's own name) so that the way out always fits.
"""

from __future__ import annotations

SIGNAL_LIMIT = 128

# code -> (RUNBOOK title, what it means and the way out): the RUNBOOK section lists them all
WRITER_CODES = {
    "W0": ("a write failed inside a dual-write trigger",
           "the server's error follows the v2 table it happened in. The v1 write was rolled back with it; nothing "
           "diverged. Fix what the error names (a value v2's type cannot hold, a missing lookup row) and write again."),
    "W1": ("the write would make two v1 rows one v2 row",
           "the plan's new key is unique on v1's data and must stay so: another v1 row already has, or maps to, "
           "the key this write gives (looked up in v1 too, so whether the backfill has copied that row does not "
           "matter). Write another key (or delete the other row first). A statement that shifts many keys at "
           "once (`UPDATE … SET k = k + 1 WHERE …`) moves one row at a time, and v2 follows in the same order: "
           "write it in the order that moves each row to a free key (`ORDER BY k DESC` for a later value, `ASC` "
           "for an earlier one). An unordered shift cannot be carried: the row that still holds the key moves, or "
           "not, only later in the same statement, neither server has a trigger that runs after its last row, and "
           "a v2 row held back until then would be lost if that row never moved."),
    "W3": ("the row disagrees with the lookup row of its key",
           "a lookup (`lookups:` in the plan) holds one row per key, so every v1 row of one key must carry the same "
           "values of the moved columns: other v1 rows of this key hold other values. Write their values (or "
           "change every row of the key in one UPDATE). An UPDATE of one row of a shared key is not refused: "
           "row by row it looks like the first row of an UPDATE of every row of the key; the shared lookup row is "
           "left as it is, and verify and 70 report the v1 rows that disagree until they agree again."),
    "W8": ("v1 is read-only: the cut-over closed it",
           "70_cutover.sql made v2 primary and closed v1 by a row of the control schema (`sides`): every write to v1 "
           "fails with this code, saying since when and which v2 table takes the write instead. Write there, with code "
           "for v2. rollback/70_cutover.sql opens v1 again (and refuses while v2 holds rows written since)."),
    "W2": ("the row fits no side of a split, or two",
           "every v1 row of a split table must pass exactly one side's `where`. Change the row, or the plan's "
           "filters (then generate again)."),
}


# Two-way sync only (listed in the RUNBOOK's "Two-way sync" section): a v2 client's write that cannot reach v1.
TWO_WAY_CODES = {
    "W5": ("a v2 value that v1's column cannot hold",
           "v1 keeps its own type (latin1 text, a narrower number): a value it cannot store exactly (an emoji, an int "
           "out of range, more digits) would be cut or replaced by `?` there, so the v2 write is refused, naming the "
           "column. Write a value both sides hold, or wait until v1 is retired."),
    "W6": ("v2 takes writes only from 60 on",
           "until 60_constraints.sql has added v2's foreign keys, its cascades and checks are not v1's: write to v1, "
           "which the triggers carry into v2."),
    "W7": ("this v2 table syncs one way",
           "its plan change cannot be undone value by value (the message and RUNBOOK give the reason): write this "
           "table through v1 until the cut-over."),
    "W9": ("a v2 row that is not this side's by the split's `where`",
           "each side of a split holds the v1 rows its filter passes, so a row whose values belong to another side (or "
           "to none, or two) is refused, an UPDATE that moves a row across the filter included: delete it from this "
           "side and insert it into the side its values belong to."),
    "W10": ("a v2 part row that v1 cannot hold",
            "v1 keeps an extracted part's columns in its master's row, where a part row of NULLs and no part row are "
            "the same: delete the part row instead. A merged part's columns that make a v1 part row (one is set) must "
            "give each of its NOT NULL columns a value (the message names it): set it, or clear them all."),
}


def short_label(table: str, room: int = 40) -> str:
    """``table`` within ``room`` characters, its end (the table's own name) kept."""
    return _shorten(table, room)


def _shorten(text: str, room: int) -> str:
    return text if len(text) <= room else "…" + text[-max(room - 1, 1):]


def writer_message(code: str, table: str, key: str, what: str) -> str:
    """``djsqlgen W1 table (key): what`` within 128 characters, the table and key shortened first."""
    fixed = len(f"djsqlgen {code}  (): {what}")
    room = max(SIGNAL_LIMIT - fixed, 8)
    table_room = min(len(table), max(room // 2, room - len(key)))
    short_table = _shorten(table, table_room)
    short_key = _shorten(key, max(room - len(short_table), 1)) if key else ""
    message = f"djsqlgen {code} {short_table}" + (f" ({short_key})" if key else "") + f": {what}"
    return message[:SIGNAL_LIMIT]


def one_way_message(table: str, why: str) -> str:
    """W7: ``djsqlgen W7 table: write to v1; syncs one way: why`` within 128 characters. The table (its end kept) and
    the way out come first; the reason takes the room left, cut with an ellipsis."""
    head = f"djsqlgen W7 {short_label(table)}: write to v1; syncs one way: "
    return head + _cut(why, SIGNAL_LIMIT - len(head))


def _cut(text: str, room: int) -> str:
    return text if len(text) <= room else text[:max(room - 1, 0)] + "…"
