"""How big a backfill chunk is: the bounds that the command line (run/throttle.py) and 40_backfill.sql's loop
(backfill_table) both follow (kept apart from the engines' SQL so the command line reads them without importing
the generator).

A chunk takes about CHUNK_TIME_S seconds at the rate of the chunks before it (pt-online-schema-change's
--chunk-time), up to MAX_CHUNK_ROWS rows and 1/POOL_SHARE of the buffer pool in bytes (by v1's average row length).
"""

CHUNK_TIME_S = 0.5
# How large a chunk may grow, measured on this machine (issue 25: 300,000 rows of 1 KB and 1,000,000 narrow rows,
# a 128 MB buffer pool, medians of 5 rounds against one bulk INSERT…SELECT). While each chunk was found by a walk
# ahead over its rows, chunks of 50,000-100,000 wide rows ran at 0.64-0.73 × bulk where 20,000 ran at 0.84-0.96:
# the walk read a chunk's pages and the buffer pool evicted them before the copy read them again (33-38k pages read
# against 21.7k for bulk). It was not the chunks' lock or undo sets: without the walk the same sizes read no extra
# pages and ran at 0.92-0.94, and narrow rows ran fastest at 50,000-100,000 rows (0.87-0.92). Now that the copy
# reads each row once (MariaDB), a backfill chunk grows to what the chunk time allows, up to MAX_CHUNK_ROWS rows and
# POOL_SHARE of the buffer pool in bytes: its rows are read, locked and written in one transaction, and the server
# keeps serving everyone else from the same pool.
MAX_CHUNK_ROWS = 100_000
POOL_SHARE = 4  # a chunk's bytes at most 1/POOL_SHARE of innodb_buffer_pool_size
