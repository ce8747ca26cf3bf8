"""Which rows a server's ON UPDATE / ON DELETE CASCADE changes: the foreign-key paths from a table to its
descendants, read from a catalog alone (the trigger engine follows them; two-way sync compares v1's with v2's)."""

from __future__ import annotations

from djsqlgen.catalog.heading import ForeignKey, Table

# a descendant reached by a cascade, and its columns -> the root's columns they follow
Cascade = tuple[Table, tuple[tuple[str, str], ...]]


def children(tables: list[Table]) -> dict[tuple[str, str], list[tuple[Table, ForeignKey]]]:
    """Parent (schema, name) -> its (child table, foreign key) pairs, in ``tables`` order."""
    out: dict[tuple[str, str], list[tuple[Table, ForeignKey]]] = {}
    for child in tables:
        for fk in child.foreign_keys:
            out.setdefault((fk.ref_schema, fk.ref_table), []).append((child, fk))
    return out


def cascades(children_of: dict, root: Table, rule: str) -> list[Cascade]:
    """Every (descendant table, its columns -> root's columns) that the server changes by cascading from ``root``
    (``rule``: 'on_update' or 'on_delete'), one entry per foreign-key path (two keys to the same parent are two
    paths)."""
    found = []
    frontier = [(root, {c: c for c in root.primary_key}, frozenset({(root.schema, root.name)}))]
    while frontier:
        parent, follows, seen = frontier.pop(0)
        for child, fk in children_of.get((parent.schema, parent.name), ()):
            if getattr(fk, rule).upper() != "CASCADE":
                continue
            mapped = {col: follows[ref] for col, ref in zip(fk.columns, fk.ref_columns) if ref in follows}
            if not mapped or (child.schema, child.name) in seen:
                continue
            found.append((child, tuple(mapped.items())))
            frontier.append((child, mapped, seen | {(child.schema, child.name)}))
    return found
