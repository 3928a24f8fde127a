"""bench/bulk_memory.py: does a bulk import's duplicate check stay flat in memory?

Runs the client side of `egactl mail import` on a staff CSV at two sizes
(``--rows``, 540,000 by default as in issue 14, and a tenth of it): the
validation pass and the sending pass's row stream (``egactl.bulk.validate`` and
``_valid_items``, with the mail plugin's own row parser and duplicate key:
the employee number), each in a child process whose peak resident memory
(``ru_maxrss``) is read. Nothing is sent: what is measured is what grows with
the file. Baseline, in the same run: the same passes with the duplicate check
keeping every key in a dict and a set (what it did before ``SeenKeys``).

Printed: peak MB per size and way, big / small ratios (flat: about 1x), and
the rows and duplicates each run found (the same for both ways).

    python bench/bulk_memory.py [--rows 540000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


class DictKeys:
    """The duplicate check as it was: every key, as text, in a dict (the line it was first met on)."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def first_line(self, key: str, line: int) -> int | None:
        if key in self.seen:
            return self.seen[key]
        self.seen[key] = line
        return None

    def close(self) -> None:
        self.seen.clear()

    def __enter__(self) -> "DictKeys":
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


def child(way: str, path: str) -> None:
    from egactl import bulk
    from egactl_mail.commands.staff_import import REQUIRED, row_parser

    if way == "dict":
        bulk.SeenKeys = DictKeys  # type: ignore[misc,assignment]
    job = bulk.Job(name="mail-import", path=Path(path), required=REQUIRED, parse_row=row_parser("RITA"),
                   endpoint="/bench", unique_key=lambda item: f"employee number {item['employee_number']}")
    rows, invalid, _ = bulk.validate(job)
    sent = sum(1 for _ in bulk._valid_items(job))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": rows, "invalid": invalid, "sent": sent, "peak_mb": peak_mb}))


def write_staff(path: Path, n: int) -> Path:
    """n staff rows; every 1,000th repeats the employee number of the row before (a duplicate)."""
    given, family = ["Juma", "Neema", "Baraka", "Zuhura", "Asha"], ["Mrisho", "Kweka", "Mwakyusa", "Massawe", "Mushi"]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("employee_number,given_name,family_name,department,title\n")
        for i in range(n):
            number = 400000000 + (i - 1 if i % 1000 == 999 else i)
            fh.write(f"{number},{given[i % 5]},{family[i // 5 % 5]},ICT,Officer\n")
    return path


def run(way: str, path: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent), str(HERE.parent / "plugins"),
                                                        os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", way, str(path)], env=env,
                       capture_output=True, text=True, timeout=3600)
    if r.returncode != 0:
        raise SystemExit(f"{way} on {path.name} failed: {r.stderr[-1500:]}")
    return json.loads(r.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=540_000, help="rows of the big file (the small: a tenth)")
    parser.add_argument("--child", nargs=2, metavar=("WAY", "CSV"), help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.child:
        return child(*opts.child)
    work = Path(tempfile.mkdtemp(prefix="egactl-bench-bulk-memory-"))
    sizes = [opts.rows // 10, opts.rows]
    try:
        files = {n: write_staff(work / f"staff-{n}.csv", n) for n in sizes}
        results = {(way, n): run(way, files[n]) for n in sizes for way in ("flat", "dict")}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    small, big = sizes
    print("client peak memory (max RSS) of `mail import`'s validation and send passes (nothing sent)")
    print(f"{'duplicate check':<32} {f'{small:,} rows':>14} {f'{big:,} rows':>14} {'big/small':>10}")
    for way, name in (("flat", "SeenKeys (digests on disk)"), ("dict", "dict of keys (before)")):
        a, b = results[(way, small)], results[(way, big)]
        print(f"{name:<32} {a['peak_mb']:>11.1f} MB {b['peak_mb']:>11.1f} MB {b['peak_mb'] / a['peak_mb']:>9.2f}x")
    for n in sizes:
        f, d = results[("flat", n)], results[("dict", n)]
        same = all(f[k] == d[k] for k in ("rows", "invalid", "sent"))
        print(f"  {n:,} rows: {f['invalid']} duplicates found, {f['sent']} rows to send "
              f"({'same as' if same else 'DIFFERENT from'} the dict's)")
        if not same:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
