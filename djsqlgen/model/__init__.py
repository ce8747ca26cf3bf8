"""The target model: one Target per v2 table, each saying how its rows come from v1 (see target.py)."""
