"""Declare with DataJoint 2.x itself the definitions the preset gives (manifest.json), in scratch schemas.

    python dj2_declare.py --manifest GENERATED/manifest.json --map V2=SCRATCH[,V2=SCRATCH...] --store-dir DIR

Run by the tool's python. Each v2 schema's tables are declared in its scratch schema from the
``dj2_definitions`` djsqlgen wrote, parents first, parts inside their masters, so the tests can compare
what 2.x declares with what the preset built (information_schema, column by column).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))

import datajoint as dj
from dj2_read014 import GraphCodec, configure  # noqa: F401  (GraphCodec registers the codec `graph`)

TIERS = {"lookup": dj.Lookup, "manual": dj.Manual, "imported": dj.Imported, "computed": dj.Computed}


def declare(definitions: list[dict], mapping: dict[str, str]) -> None:
    namespaces = {v2: SimpleNamespace() for v2 in mapping}
    schemas = {v2: dj.Schema(scratch, context={}) for v2, scratch in mapping.items()}
    classes: dict[tuple[str, str], type] = {}
    for d in definitions:  # every class first; parts go inside their masters
        name = d["class_name"].split(".")[-1]
        base = dj.Part if d["tier"] == "part" else TIERS[d["tier"]]
        attrs = {"definition": d["definition"]}
        if base in (dj.Imported, dj.Computed):
            attrs["make"] = lambda self, key: None
        cls = type(name, (base,), attrs)
        classes[(d["schema"], d["table"])] = cls
        if d["tier"] == "part":
            setattr(classes[(d["schema"], d["master"])], name, cls)
        else:
            setattr(namespaces[d["schema"]], name, cls)
    for d in definitions:
        if d["tier"] == "part":
            continue  # declared with its master
        schema = schemas[d["schema"]]
        context = {**vars(namespaces[d["schema"]]), **namespaces}
        schema.context = context
        schema(classes[(d["schema"], d["table"])], context=context)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--map", required=True)
    parser.add_argument("--store-dir", required=True)
    args = parser.parse_args()
    os.dup2(2, 1)
    configure(args.store_dir)
    mapping = dict(pair.split("=") for pair in args.map.split(","))
    declare(json.loads(Path(args.manifest).read_text())["dj2_definitions"], mapping)
    return 0


if __name__ == "__main__":
    sys.exit(main())
