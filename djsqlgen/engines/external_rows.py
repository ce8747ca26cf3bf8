"""Two-way sync of 2.x external blobs, attachments and filepaths: the ``~external_<store>`` row v1's reference needs,
inserted by the reverse triggers before v1's row (model/external_back.py says which values need one and why)."""

from __future__ import annotations

from djsqlgen.catalog.types import KIND_ANGLE, KIND_LEGACY, split_comment
from djsqlgen.engines.context import Context
from djsqlgen.model import external_back
from djsqlgen.model.target import DRIVING, TableRef
from djsqlgen.presets import dj2_sql
from djsqlgen.sqltext.messages import writer_message
from djsqlgen.sqltext.quoting import quote_identifier, quote_literal
from djsqlgen.sqltext.render import render
from djsqlgen.sqltext.statements import Owned, Statement


def kept_json_table(ctx: Context) -> list[Statement]:
    """30 of a two-way plan with a 2.x ``<filepath@store>`` going back: the control table keeping its JSON as
    written (rollback/30 drops it); none otherwise."""
    if not external_back.has_filepaths(ctx.model, ctx.compare_before_write):
        return []
    table = external_back.KEPT_JSON_TABLE
    return [Statement(f"{table}_table_create",
                      render("filepath_json_table_create.sql.j2", control=ctx.plan.control, table=table),
                      "the JSON of each filepath 2.x writes, as written, for the way forward",
                      creates=Owned("table", ctx.plan.control, table))]


def row_blocks(ctx: Context, written: TableRef, event: str) -> list[tuple[str, str, str]]:
    """(v1 table, why, SQL) blocks of a reverse INSERT or UPDATE trigger on ``written`` (a v2 table); an UPDATE
    looks only at the values it changed."""
    if not ctx.reverse:
        return []
    from djsqlgen.engines import two_way

    blocks = []
    v2 = ctx.model.v1_table(written)  # (the reverse model's "v1" is v2)
    for target in ctx.model.targets:  # v1 tables, computed from v2
        if target.source.driving != written:
            continue
        for c in target.columns:
            # v1's 0.14 blob@store (attach@store) made from v2's 2.x <blob@store> (<attach@store>); not a plain copy:
            # a plan may keep the reference
            marker, _ = split_comment(c.decl.comment)
            if marker is None or marker.kind != KIND_LEGACY or marker.name not in external_back.KINDS \
                    or not marker.store \
                    or c.expr.is_column or {r.alias for r in c.expr.refs} != {DRIVING}:
                continue
            v2_marker, _ = split_comment(v2.attribute(c.expr.refs[0].name).comment)
            if v2_marker is None or v2_marker.kind != KIND_ANGLE or v2_marker.name != marker.name:
                continue
            column = quote_identifier(c.expr.refs[0].name)
            value = f"NEW.{column}"
            if marker.name == "filepath":
                blocks.append(_filepath_block(ctx, written, target, c.name, c.expr.refs[0].name, marker.store, event))
                continue
            # a value carried from v1 refers to 0.14's own row; one neither so nor 2.x's own copy (a JSON written by
            # hand) would not come back as written
            what = f"not a <{marker.name}@{marker.store}> value v1 can refer to (2.x's own copy, or as carried from v1)"
            message = writer_message("W5", written.label, c.expr.refs[0].name, what)
            insert = external_back.row_insert(target.schema, marker.store, value).replace("\n", "\n  ")
            sql = (f"IF {value} IS NOT NULL AND {external_back.is_native(value, written.schema)} THEN\n"
                   f"  {insert};\n"
                   f"ELSEIF {value} IS NOT NULL AND NOT ({dj2_sql.json_text(value, 'schema')} <=> "
                   f"{quote_literal(target.schema)}) THEN\n"
                   f"  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = {quote_literal(message)};\n"
                   "END IF")
            sql = _when_changed(column, sql, event)
            noun = "an attachment" if marker.name == "attach" else "a blob"
            blocks.append((target.label, f"{noun} 2.x wrote gets its row in ~external_{marker.store} before v1's row "
                                         f"refers to it ({c.name}; never deleted here); a JSON v1 cannot refer to is "
                                         "refused" + ("; `djsqlgen files --reverse` writes 0.14's file"
                                                      if marker.name == "attach" else ""),
                           two_way.outside_engine_sessions(ctx, sql)))
    return blocks


def _filepath_block(ctx: Context, written: TableRef, target, v1_column: str, v2_column: str, store: str,
                    event: str) -> tuple[str, str, str]:
    """A 2.x ``<filepath@store>`` value: its ``~external_<store>`` row and the JSON kept as written, or refused
    (model/external_back.py)."""
    from djsqlgen.engines import two_way

    column = quote_identifier(v2_column)
    shape = writer_message("W5", written.label, v2_column,
                           f"not a <filepath@{store}> file v1 can refer to (size, this store, no directory, relative)")
    other = writer_message("W5", written.label, v2_column,
                           "v1 holds this path with another size or time (one per path): write its JSON as stored")
    body = external_back.filepath_row_sql(ctx.plan.control, target.schema, store, f"NEW.{column}", shape, other,
                                          native_json=ctx.dialect.native_json,
                                          # v1's ~external_<store> was made by 0.14 in the same schema as the
                                          # v1 table, both in the schema's character set (this model of v1 is
                                          # v2's way back: it holds the table, not ~external_<store>)
                                          path_charset=target.charset)
    # not in the echo of a v1 write (v2's JSON is then forward's, from v1's row; and a write into ~external_<store>,
    # which the v1 statement's trigger reads, would fail with 1442)
    sql = (f"IF NOT {two_way.IN_CARRY} AND NEW.{column} IS NOT NULL THEN\n"
           f"  {body.replace(chr(10), chr(10) + '  ')};\nEND IF")
    sql = _when_changed(column, sql, event)
    return (target.label, f"a filepath 2.x wrote gets its row in ~external_{store} before v1's row refers to it "
                          f"({v1_column}; never deleted here), its JSON kept as written in "
                          f"{external_back.KEPT_JSON_TABLE}; one v1 cannot give back is refused; `djsqlgen files "
                          "--reverse` fills contents_hash",
            two_way.outside_engine_sessions(ctx, sql))


def _when_changed(column: str, sql: str, event: str) -> str:
    """``sql`` for an INSERT; for an UPDATE only where it changed ``column`` (v1 has the value's row already)."""
    if event != "UPDATE":
        return sql
    return f"IF NOT (OLD.{column} <=> NEW.{column}) THEN\n  {sql.replace(chr(10), chr(10) + '  ')};\nEND IF"
