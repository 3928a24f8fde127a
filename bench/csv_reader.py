"""bench/csv_reader.py: what the core CSV reader's checks cost, and whether memory grows with the input.

    python bench/csv_reader.py [--rows 300000]

Every import path reads through ``egactl.bulk.read_csv``, which checks each row's
field count against the header, parses with ``strict=True`` and refuses NUL bytes.
Printed, as ratios measured in this run:

- time: read_csv over the file / python's plain csv.DictReader over the same file
  (the baseline: what reading without the checks costs);
- memory: peak traced memory reading the big file / reading a file 100 times smaller
  (flat means the reader streams);
- a file whose last quote never closes: peak memory / the small file's, to show an
  unclosed quote cannot pull the rest of the file into one field.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
import tracemalloc
from pathlib import Path


def write(path: Path, rows: int, open_quote: bool = False) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(("phone", "name", "amount", "note"))
        if open_quote:
            fh.write('0754100000,"Jose Mul\n')
        for i in range(rows):
            w.writerow((f"07541{i % 100000:05d}", f"Mwananchi {i}", str(1000 + i), "deni la maji, Dodoma"))


def timed(*fns) -> list[float]:
    """Best of five for each, in alternating rounds, so that load from elsewhere falls on all alike."""
    best = [float("inf")] * len(fns)
    for _ in range(5):
        for i, fn in enumerate(fns):
            t = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t)
    return best


def peak(fn) -> int:
    tracemalloc.start()
    try:
        fn()
    except Exception:
        pass
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return top


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=300_000)
    args = parser.parse_args()
    from egactl.bulk import read_csv

    with tempfile.TemporaryDirectory() as d:
        big, small, broken = Path(d, "big.csv"), Path(d, "small.csv"), Path(d, "broken.csv")
        write(big, args.rows)
        write(small, args.rows // 100)
        write(broken, args.rows, open_quote=True)

        def core(path: Path):
            return lambda: sum(1 for _ in read_csv(path, ("phone",)))

        def plain(path: Path):
            def run():
                with open(path, encoding="utf-8-sig", newline="") as fh:
                    return sum(1 for _ in csv.DictReader(fh))
            return run

        t_core, t_plain = timed(core(big), plain(big))
        m_big, m_small, m_broken = peak(core(big)), peak(core(small)), peak(core(broken))
        print(f"rows: {args.rows}; file: {big.stat().st_size / 1e6:.0f} MB")
        print(f"time  read_csv / csv.DictReader: {t_core / t_plain:.2f}  ({args.rows / t_core:,.0f} rows/s)")
        print(f"memory {args.rows} rows / {args.rows // 100} rows: {m_big / m_small:.2f}  (peak {m_big / 1e3:.0f} kB)")
        print(f"memory unclosed quote / {args.rows // 100} rows: {m_broken / m_small:.2f}")


if __name__ == "__main__":
    main()
