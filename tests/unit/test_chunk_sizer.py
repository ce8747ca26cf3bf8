"""The backfill's chunk size adapts toward --chunk-time, within bounds (pt-online-schema-change's rule)."""

from __future__ import annotations

from djsqlgen.run.throttle import MAX_CHUNK_ROWS, ChunkSizer, backfill_ceiling


def test_fast_chunks_grow_and_slow_ones_shrink_toward_the_target():
    sizer = ChunkSizer(2000, 0.5)
    for _ in range(20):  # 10,000 keys a second: a 0.5 s chunk is 5,000 keys
        sizer.observe(sizer.size, sizer.size / 10_000)
    assert 4500 <= sizer.size <= 5500
    for _ in range(30):  # the server slows down to 2,000 keys a second
        sizer.observe(sizer.size, sizer.size / 2_000)
    assert 900 <= sizer.size <= 1100


def test_the_size_stays_within_a_tenth_and_four_times_the_start():
    fast, slow = ChunkSizer(5000, 0.5), ChunkSizer(5000, 0.5)
    for _ in range(50):
        fast.observe(fast.size, 1e-6)
        slow.observe(slow.size, 100.0)
    assert fast.size == 20_000 and slow.size == 500


def test_a_small_start_may_still_grow_to_the_ceiling():
    tiny = ChunkSizer(2, 0.5)
    for _ in range(50):
        tiny.observe(tiny.size, 1e-6)
    assert tiny.size == 10_000


def test_no_target_keeps_the_size():
    sizer = ChunkSizer(7, 0.0)
    sizer.observe(7, 5.0)
    assert sizer.size == 7


def test_the_backfill_grows_narrow_chunks_to_100k_rows_and_wide_ones_to_a_share_of_the_buffer_pool():
    pool = 128 << 20
    assert backfill_ceiling(5000, 40, pool) == MAX_CHUNK_ROWS == 100_000
    assert backfill_ceiling(5000, 1100, pool) == pool // 4 // 1100  # 30,504 rows of 1 KB: 32 MB
    assert backfill_ceiling(5000, 0, pool) == 100_000  # no statistics yet
    assert backfill_ceiling(200_000, 1100, pool) == 200_000  # never below the start
    sizer = ChunkSizer(5000, 0.5, ceiling=backfill_ceiling(5000, 40, pool))
    for _ in range(50):  # 400,000 narrow rows a second: 0.5 s is 200,000 rows
        sizer.observe(sizer.size, sizer.size / 400_000)
    assert sizer.size == 100_000
