"""DataJoint type knowledge: the `:marker:` at the head of a column comment, for 0.14 and 2.x.

This is the one place that parses markers. The tables come from the installed ``datajoint``
package (2.x core types and built-in codecs, and its own patterns for 0.14's external types)
so they follow the release the tool is installed with.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from functools import lru_cache

# DataJoint's own split of a comment into marker and free text (heading.py in both 0.14 and 2.x).
MARKER = re.compile(r":(?P<marker>[^:]+):(?P<comment>.*)", re.DOTALL)

# DataJoint 0.14 keeps an external store's index in a table of this prefix, ``~external_<store>``.
EXTERNAL_TABLE_PREFIX = "~external_"


def external_table(store: str) -> str:
    """DataJoint 0.14's table of a store's external values."""
    return EXTERNAL_TABLE_PREFIX + store


# DataJoint 0.14 wrote these types into comments; 2.x has codecs for them instead.
LEGACY_STORE_TYPES = ("blob", "attach", "filepath")
_LEGACY_WITH_STORE = re.compile(r"(?P<name>blob|attach|filepath)@(?P<store>[a-z][\-\w]*)$", re.IGNORECASE)
_ANGLE = re.compile(r"<(?P<name>[^@>]+)(?:@(?P<store>[^>]*))?>$")

KIND_CORE = "core"  # 2.x core type (int32, float64, uuid, json, ...); 0.14 also writes :uuid:
KIND_ANGLE = "angle"  # <name> or <name@store>: a 2.x codec, or a 0.14 AttributeAdapter
KIND_LEGACY = "legacy"  # 0.14 attach, blob@store, attach@store, filepath@store
KIND_UNKNOWN = "unknown"  # between colons, but no type either DataJoint knows (kept byte for byte)


@lru_cache(maxsize=1)
def _datajoint_tables() -> tuple[dict[str, re.Pattern], frozenset[str], dict[str, str | None]]:
    """Core type patterns, built-in codec names and core type SQL of the installed DataJoint 2.x."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "No datajoint.json found": irrelevant here
        from datajoint.codecs import list_codecs
        from datajoint.declare import CORE_TYPE_PATTERNS, CORE_TYPE_SQL
    return dict(CORE_TYPE_PATTERNS), frozenset(list_codecs()), dict(CORE_TYPE_SQL)


def core_type_sql() -> dict[str, str | None]:
    """2.x core type name → the SQL type 2.x declares for it (None: written as the type itself, e.g. date)."""
    return _datajoint_tables()[2]


def core_type_of(marker: str) -> str | None:
    """The DataJoint 2.x core type a marker spells (``varchar(64)`` → ``varchar``), or None."""
    patterns = _datajoint_tables()[0]
    return next((name for name, pattern in patterns.items() if pattern.match(marker)), None)


def builtin_codec_names() -> frozenset[str]:
    """Codecs that DataJoint 2.x registers by itself (``blob``, ``attach``, ``filepath``, ...)."""
    return _datajoint_tables()[1]


@dataclass(frozen=True)
class DataJointType:
    """A parsed comment marker.

    Attributes
    ----------
    marker : the text between the colons, byte for byte (``int32``, ``blob@raw``, ``<blob@raw>``).
    kind : ``core``, ``angle``, ``legacy`` or ``unknown``.
    name : the type, codec or adapter name without store (``int32``, ``blob``, ``graph``).
    store : the store name for external types, '' for 2.x's default store (``<blob@>``), else None.
    """

    marker: str
    kind: str
    name: str
    store: str | None = None

    @property
    def is_external(self) -> bool:
        """Whether the value lives in an object store and the column holds a reference."""
        return self.store is not None

    @property
    def generation(self) -> str | None:
        """``0.14`` or ``2.x`` when the marker alone says which DataJoint wrote it, else None."""
        if self.kind == KIND_LEGACY:
            return "0.14"
        if self.kind == KIND_CORE and self.name != "uuid":
            return "2.x"
        return None  # uuid and <name> markers are written by both


def split_comment(comment: str) -> tuple[DataJointType | None, str]:
    """Split a column comment into its DataJoint marker (if any) and the user's comment."""
    found = MARKER.match(comment or "")
    if not found:
        return None, comment or ""
    marker = found["marker"]
    return parse_marker(marker), found["comment"]


def parse_marker(marker: str) -> DataJointType:
    """Classify a marker as DataJoint 0.14 or 2.x would read it."""
    angle = _ANGLE.match(marker)
    if angle:
        return DataJointType(marker, KIND_ANGLE, angle["name"].strip(), angle["store"])
    legacy = _LEGACY_WITH_STORE.match(marker)
    if legacy:
        return DataJointType(marker, KIND_LEGACY, legacy["name"].lower(), legacy["store"])
    if marker.lower() == "attach":  # 0.14 in-table attachment; 2.x writes <attach>
        return DataJointType(marker, KIND_LEGACY, "attach")
    core = core_type_of(marker)
    if core:
        return DataJointType(marker, KIND_CORE, core)
    # Anything else between colons is still a marker DataJoint strips from the comment: keep it.
    return DataJointType(marker, KIND_UNKNOWN, marker)
