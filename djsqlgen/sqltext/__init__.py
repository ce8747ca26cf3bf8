"""SQL text, below the engines: quoting, names, dialect, statements, templates, writer messages, refusals.

Imports run one way: catalog/model/ops -> sqltext -> engines -> phases/output -> run/cli. Nothing here imports
engines/, phases/ or output/ (tests/unit/test_layers.py checks it). Kept import-free: the backfill's command line
loads sqltext.naming and sqltext.quoting without the generator (tests/unit/test_startup.py).
"""
