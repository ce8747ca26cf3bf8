"""DataJoint 2.3's dependency graph of some schemas, as JSON (run by the tool's python, which has 2.3).

    python dj2_graph.py DB[,DB...]

Prints {"`db`.`table`": {"`db`.`parent`": {child attribute: parent attribute}}} for every table.
"""

from __future__ import annotations

import json
import os
import sys

import datajoint as dj


def main() -> int:
    sys.stdout.flush()
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # DataJoint may print; keep stdout for the JSON
    dj.config["database.host"] = os.environ.get("DJ_HOST", "127.0.0.1")
    dj.config["database.user"] = os.environ.get("DJ_USER", "root")
    dj.config["database.password"] = os.environ.get("DJ_PASS", "")
    dj.config["database.port"] = int(os.environ.get("DJ_PORT", "3306"))
    conn = dj.conn(reset=True)
    databases = sys.argv[1].split(",")
    for db in databases:  # registering the schemas is what makes the graph see them
        dj.Schema(db, connection=conn, create_schema=False, create_tables=False)
    conn.dependencies.load()
    graph = {}
    for db in databases:
        for (name,) in conn.query("SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                                  args=(db,)):
            full = f"`{db}`.`{name}`"
            parents = {}
            if full in conn.dependencies:
                for node, props in conn.dependencies.parents(full):
                    if node.isdigit():  # an alias node of a renamed reference: its parent is the table
                        (node, _), = conn.dependencies.parents(node)
                    parents[node] = dict(props["attr_map"])
            graph[full] = parents
    json.dump(graph, out, sort_keys=True)
    out.write("\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
