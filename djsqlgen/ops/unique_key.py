"""The data check shared by every operation that makes a target's key one-to-one only on the data."""

from __future__ import annotations

from djsqlgen.model.checks import DataCheck
from djsqlgen.model.target import Model, Target


def key_unique_check(model: Model, target: Target, plan_key: str) -> DataCheck:
    return DataCheck(
        kind="key_unique", target_id=target.id, plan_key=plan_key,
        what=f"the key ({', '.join(target.primary_key)}) of {target.label} is unique over "
             f"{target.source.driving.label}: {target.key_map.why}",
        fix="change the data in v1 so no two rows share the new key, or keep the key as it is"
            + ("; for a collation that equates more (latin1_swedish_ci to utf8mb4_general_ci: 'o' = 'ö'), give the key "
               "column and the columns referring to it collation: utf8mb4_bin" if "_ci" in target.key_map.why else ""),
    )
