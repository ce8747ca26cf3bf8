"""Presets: whole-plan conversions written once in the plan (``preset:``) and applied to every column.

A preset is desugared into the same operations a hand-written plan would give (``djsqlgen.ops``),
before the plan's own entries for a table, so a column the plan changes by hand starts from the
preset's result. ``dj2`` is DataJoint 0.14 → 2.x; ``dj2_sql`` the 2.x formats it computes on the server.
"""
