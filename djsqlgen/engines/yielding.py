"""How the backfill yields to writers: the retry pauses and limits that the command line (run/driver.py) and
40_backfill.sql's backfill_table both follow (kept apart from the engines' SQL so the command line reads them
without importing the generator).

Writers win: a chunk never waits for a row lock (backfill_chunk), it fails and is tried again after a pause. Rows
of one chunk locked by writers for LOCKED_FOR_S seconds of retries stop the backfill (resumable); the wait is said
at the QUIET_RETRIES-th retry in a row (after about 0.75 s of pauses in 40's loop, 1.5 s on the command line);
each retry halves the chunk.
"""

LOCKED_FOR_S = 300
QUIET_RETRIES = 5
# The pause before the n-th retry in a row: FIRST_PAUSE_S × 2^(n-1), at most MAX_PAUSE_S.
FIRST_PAUSE_S, MAX_PAUSE_S = 0.05, 2
