"""A DataJoint 0.14 external attribute becomes the DataJoint 2.x codec of the same name.

0.14 keeps ``blob@store``, ``attach@store`` and ``filepath@store`` values as a binary(16) reference into
``~external_<store>``; 2.x keeps JSON in the column itself (``<blob@store>`` …). The v2 column joins the
external table by that reference and builds the JSON on the server (``djsqlgen.presets.dj2_sql``), so no
row passes through Python and the triggers carry every 0.14 write over the same way. Blobs and
filepaths point at the files 0.14 wrote, where they are; an attachment points at a copy that
``djsqlgen files`` writes in 2.x's format (filename, NUL, contents). A blob a 2.x client wrote (two-way sync)
(or an attachment) comes forward from the ``~external_<store>`` row its way back made (model/external_back.py) as
the JSON 2.x wrote; a filepath from the JSON the way back kept (``external_back.prefer_kept_json``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from djsqlgen.catalog.types import external_table, split_comment
from djsqlgen.model.expr import ColumnRef, Expr
from djsqlgen.model.target import DRIVING, Join, Model, TableRef
from djsqlgen.ops.base import Operation
from djsqlgen.presets import dj2_sql
from djsqlgen.sqltext.quoting import quote_literal

ATTACH_TARGET_PREFIX = "_hash"  # 2.x's default hash_prefix: attachments are rewritten under it


def attach_target_path_sql(md5_sql: str, schema: str) -> str:
    """Where ``djsqlgen files`` writes a 0.14 attachment for 2.x: ``_hash/<schema>/<base32 md5>``, 2.x's own
    layout for a store without subfolding."""
    return f"CONCAT('{ATTACH_TARGET_PREFIX}/', {quote_literal(schema)}, '/', {dj2_sql.base32_md5(md5_sql)})"


@dataclass(frozen=True)
class ConvertExternal(Operation):
    target_id: str
    column: str  # the v1 column, by its name when this operation runs
    kind: str  # blob / attach / filepath
    store: str
    subfolding: tuple[int, ...] = dj2_sql.DEFAULT_SUBFOLDING  # the 0.14 store's, where its blob files are

    @property
    def alias(self) -> str:
        return f"ext_{self.column}"

    def _external(self, model: Model) -> TableRef:
        return TableRef(model.target(self.target_id).source.driving.schema, external_table(self.store))

    def validate(self, model: Model) -> list[str]:
        target = model.target(self.target_id)
        external = self._external(model)
        if model.v1.find_table(external.schema, external.name) is None:
            return [(f"{self.plan_key}: {self.column!r} is {self.kind}@{self.store} but {external.label} is not in "
                     "the heading; inspect the schema again (the external table is created with the first value)")]
        if any(j.alias == self.alias for j in target.source.joins):
            return [f"{self.plan_key}: the join alias {self.alias!r} is taken; rename that join"]
        return []

    def _value(self, model: Model) -> Expr:
        """The JSON expression, its column references cut out where the placeholders stand (no parse needed: the
        text is ours, and sqlglot took most of plan check's time on a few thousand tables)."""
        src, size, name, path, stamp = (f"\0{i}\0" for i in range(5))
        refs = [ColumnRef(DRIVING, self.column), *(ColumnRef(self.alias, c) for c in
                                                   ("size", "attachment_name", "filepath", "timestamp"))]
        schema = self._external(model).schema
        if self.kind == "filepath":
            text = dj2_sql.filepath_json(src, path, self.store, size, stamp)
        else:
            # 2.x stores an attachment as filename\0contents: one byte more than the name and the contents
            full_size = f"{size} + LENGTH(CONVERT({name} USING utf8mb4)) + 1" if self.kind == "attach" else size
            at = attach_target_path_sql(src, schema) if self.kind == "attach" else \
                dj2_sql.legacy_path(src, schema, subfolding=self.subfolding)
            text = dj2_sql.hash_json(src, at, schema, self.store, full_size)
            # a value 2.x wrote, carried back into a row of its own (model/external_back.py): its JSON as 2.x wrote it
            # (an attachment's row has 2.x's size until `djsqlgen files --reverse` names it, the contents' after)
            v2_schema = model.target(self.target_id).schema
            native_size = f"CASE WHEN {name} IS NULL THEN {size} ELSE {full_size} END" if self.kind == "attach" \
                else size
            native = (f"JSON_OBJECT('hash', SUBSTRING_INDEX({path}, '/', -1), 'path', {path}, "
                      f"'schema', {quote_literal(v2_schema)}, 'store', {quote_literal(self.store)}, "
                      f"'size', {native_size})")
            text = (f"CASE WHEN {path} IS NOT NULL AND {src} = {dj2_sql.path_md5(path)} THEN {native}\n"
                    f"  ELSE {text} END")
        pieces = text.split("\0")  # text, index, text, index, ... text
        return Expr(tuple(pieces[0::2]), tuple(refs[int(i)] for i in pieces[1::2]))

    def apply(self, model: Model) -> Model:
        target = model.target(self.target_id)
        column = target.column(self.column)
        join = Join(self.alias, self._external(model), (("hash", Expr.column(DRIVING, self.column)),), "left")
        target = replace(target, source=replace(target.source, joins=target.source.joins + (join,)))
        expr = self._value(model)
        _, user_comment = split_comment(column.decl.comment)
        decl = replace(column.decl, sql_type="json", default="NULL" if column.decl.nullable else None,
                       comment=f":<{self.kind}@{self.store}>:{user_comment}", charset=None, collation=None)
        columns = tuple(replace(c, decl=decl, expr=expr, copied_from=None, plan_key=self.plan_key)
                        if c.name == self.column else c for c in target.columns)
        # The index InnoDB made for the reference into ~external_<store> goes with it (JSON cannot be indexed).
        indexes = tuple(i for i in target.indexes if self.column not in i.columns)
        unique = tuple(i for i in target.unique_indexes if self.column not in i.columns)
        return model.replace_target(replace(target, columns=columns, indexes=indexes, unique_indexes=unique))

    @property
    def irreversible(self) -> str:
        """Why a 2.x value of this kind cannot go back to 0.14: '' for each kind (model/external_back.py: a blob or an
        attachment by its JSON's hash or 2.x's path; a filepath by its path, its JSON kept as written)."""
        return ""
