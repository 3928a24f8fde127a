"""The bulk duplicate check's memory (egactl.bulk.SeenKeys): exact, and holding no key in clear."""

from __future__ import annotations

from egactl import bulk


def test_first_line_of_each_key():
    with bulk.SeenKeys() as seen:
        assert seen.first_line("employee number 1", 2) is None
        assert seen.first_line("employee number 2", 3) is None
        assert seen.first_line("employee number 1", 7) == 2
        assert seen.first_line("employee number 1", 9) == 2  # always the first line, never the last duplicate
        assert seen.first_line("Employee number 1", 10) is None  # keys are compared exactly
        assert seen.first_line("RITA/dar-hq\udcff", 11) is None  # text the CSV decoder let through


def test_many_keys_stay_exact():
    with bulk.SeenKeys() as seen:
        for i in range(50_000):
            assert seen.first_line(f"+2557{i:08d}", i + 2) is None
        assert seen.first_line("+255700012345", 99_999) == 12_345 + 2
        assert seen.first_line("+255700050000", 100_000) is None


def test_the_store_holds_digests_not_keys():
    with bulk.SeenKeys() as seen:
        seen.first_line("employee number 400123456", 2)
        stored = seen._db.execute("SELECT digest FROM seen").fetchall()
    assert len(stored) == 1 and isinstance(stored[0][0], bytes) and len(stored[0][0]) == 16
    assert b"400123456" not in stored[0][0]
