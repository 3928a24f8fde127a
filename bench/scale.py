"""bench/scale.py: do egactl's look-ups stay flat at national size?

Builds the national-size data set of issue 14 (300 institutions, 620k
mailboxes, 5.35M SMS messages in 205 batches, 1M audit entries), multiplied by
``--scale``, on SQLite and on PostgreSQL 15, at two sizes: the "100%"
(``--scale``) and the "10%" (a tenth of it). For each size and backend:

1. the schema is made by the real backend (``egactl serve migrate``), and a
   token for an admin, an operator of MNRT and one of MOH and MOEST by ``egactl serve tokens``;
2. the data is bulk-loaded straight into the real tables, bypassing the API
   (which would take hours at this size). Fast paths:
   - SQLite: ``executemany`` of generated rows, one transaction per table,
     ``journal_mode=WAL``/``synchronous=OFF`` during the load only;
   - PostgreSQL: ``COPY … FROM STDIN`` (psycopg 3 ``write_row``), then the
     id sequences are moved past the loaded ids.
   Every index the migrations made stays in place during the load (what is
   timed is the schema as shipped). Both are ANALYZEd after the load, as
   autovacuum would on PostgreSQL (and ``PRAGMA optimize`` on SQLite);
3. a real ``egactl serve`` (no workers) is started on each size, and each look-up
   of the issue's table is run through the real CLI (``python -m egactl
   --debug …``, ``EGACTL_API_URL``/``EGACTL_TOKEN``), once to warm up and
   then ``--repeat`` times (5), the two sizes' servers running side by side
   and taking turns run by run (so load from elsewhere weighs on both alike). The figure is the median of the HTTP time the
   CLI itself measures around its request(s) (the ``--debug`` trace's
   ``(N ms)``, summed over the command's requests); beside it, the median of
   the server's own time for the same requests (its ``Server-Timing:
   app;dur=``, arrival to answer, summed likewise: "server ms"), and of the
   admission queue's wait (``queue;dur=``, part of it); the CLI process's wall
   time is shown too.

The data look like the real thing: institutions skewed (a few ministries and
agencies hold most mailboxes and messages; late-onboarded councils, e.g.
SONGWE-MC, have the highest mailbox ids), names from a short list of Tanzanian
names (so there are many juma.mrisho<N>), numbers 2557xxxxxxxx, message states
mostly delivered with some failed/rejected/expired, mailboxes mostly active
with some suspended/deleted/purged, one batch of 1M recipients (at 100%), a
rare audit actor and a rare action (purge), a year of audit history up to now.

    python bench/scale.py [--scale 1.0] [--backend sqlite,postgres] [--repeat 5]
    python bench/scale.py --small [--backend sqlite]   # 1/1000, one timed run: for the test suite
    python bench/scale.py --postgres-url postgresql://postgres@127.0.0.1:5432/postgres   # an existing server
    python bench/scale.py --data /var/tmp/egactl-scale   # keep the data sets there; reuse them next time
    python bench/scale.py --data /var/tmp/egactl-scale --only audit --only 'find INSTITUTION'   # some look-ups

``--data DIR`` keeps what a run builds: the SQLite files, a PostgreSQL server's
own directory (DIR/postgres, stopped cleanly at the end, started again by the
next run), and DIR/sets.json (0600: the tokens, and the values the look-ups are
filled with). A later run with the same ``--data`` and ``--scale`` reuses every
set it finds there instead of building it (about 15 minutes of CPU at full
size), after `egactl serve migrate` has brought it to this release's schema
(so a new index is in what is timed; the set is ANALYZEd again when a revision
ran); a set it does not find (another backend) it builds there.

The look-ups are filled with the data set's own values (a batch id, an
address, …), and "the last hour" of ``audit list --since 1h`` is the data
set's: the hour before it was built (``--since`` gets that time), which holds
``RECENT_AUDIT`` entries at every size, as a national log's last hour holds
more than a page at any time (spread evenly over the year instead, the 10% set's
last hour held 10 entries and the 100% set's 115: not the same look-up).

The table gives, per look-up and backend, the median ms at the 10% size and
at the 100% size, and their ratio (issue 14's target: <= 1.5x, <= 50 ms).
Wall time is printed, never asserted (tests/core/test_bench_scale.py only
checks that every look-up printed a row).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
PG_BIN = Path(os.environ.get("EGACTL_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))

# The full size (issue 14).
INSTITUTIONS = 300
MAILBOXES = 620_000
MESSAGES = 5_350_000
BATCHES = 205
BIG_BATCH = 1_000_000
AUDIT = 1_000_000
RECENT_AUDIT = 250
"""Audit entries in the data set's last hour, at every size: a national log writes more than a page
of them an hour (1M a year is ~115 an hour, more in office hours), and the same number at both sizes
makes `audit list --since 1h` the same work at both (spread evenly over the year, the 10% set's last
hour held 10 entries and the 100% set's 115: not the same look-up)."""

GIVEN = ["Juma", "Amina", "Neema", "Baraka", "Rehema", "Hamisi", "Zawadi", "Mussa", "Upendo", "Salma",
         "Emmanuel", "Grace", "Said", "Halima", "Joseph", "Mwanaisha", "Petro", "Fatuma", "Elia", "Agnes",
         "Omari", "Mariam", "Daudi", "Esther", "Athumani", "Happiness", "Khamis", "Winfrida", "Yusuph", "Devota"]
FAMILY = ["Mrisho", "Mrema", "Mwakyusa", "Kimaro", "Massawe", "Nyirenda", "Mollel", "Mushi", "Lyimo", "Shirima",
          "Mbwana", "Kombo", "Mapunda", "Haule", "Ngowi", "Swai", "Mwita", "Chacha", "Kitwana", "Komba",
          "Magesa", "Mbilinyi", "Njau", "Minja", "Temba", "Mtui", "Kessy", "Urassa", "Mfinanga", "Sanga"]
DEPARTMENTS = ["Administration", "Finance", "ICT", "Human Resources", "Planning", "Legal", "Procurement",
               "Health", "Education", "Works", "Audit", "Communications"]
TITLES = ["Officer", "Senior Officer", "Principal Officer", "Assistant", "Director", "Accountant", "Engineer",
          "Nurse", "Teacher", "Driver"]
REGIONS = ["Dodoma", "Dar es Salaam", "Arusha", "Mwanza", "Mbeya", "Morogoro", "Tanga", "Kilimanjaro", "Iringa",
           "Songwe", "Kigoma", "Tabora", "Singida", "Mtwara", "Lindi", "Ruvuma", "Njombe", "Rukwa", "Katavi",
           "Shinyanga", "Simiyu", "Mara", "Kagera", "Geita", "Manyara", "Pwani"]
# The big ones first (they take most mailboxes and messages); MNRT near the end of the
# weights (few messages); SONGWE-MC among the late-onboarded (highest mailbox ids).
NAMED = ["MOH", "MOEST", "PORALG", "TRA", "MOF", "NIDA", "TANESCO", "RITA", "NHIF", "MOHA", "TPA", "DAWASA",
         "TCRA", "BOT", "TANROADS", "MUHAS", "UDSM", "MOW", "MOA", "TAMISEMI"]
LOOKUPS = [
    ("sms list -i MNRT (few messages)", "admin", ["sms", "list", "-i", "MNRT"]),
    ("sms list (operator of MNRT)", "operator", ["sms", "list"]),
    ("sms list (operator of MOH, MOEST)", "operator of two", ["sms", "list"]),
    ("sms list --batch BIG --status failed", "admin", ["sms", "list", "--batch", "{big}", "--status", "failed"]),
    ("sms report BIG", "admin", ["sms", "report", "{big}"]),
    ("audit list --actor RARE", "admin", ["audit", "list", "--actor", "{rare_actor}"]),
    ("audit list --action purge", "admin", ["audit", "list", "--action", "purge"]),
    ("audit list --since 1h", "admin", ["audit", "list", "--since", "{hour_ago}"]),  # the data's last hour
    ("mail list --search ADDRESS", "admin", ["mail", "list", "--search", "{address}"]),
    ("mail list --search 'juma mr'", "admin", ["mail", "list", "--search", "juma mr"]),
    ("mail list -i SONGWE-MC (high ids)", "admin", ["mail", "list", "-i", "SONGWE-MC"]),
    ("find ADDRESS --service mail", "admin", ["find", "{address}", "--service", "mail"]),
    ("find EMPLOYEE-NO --service mail", "admin", ["find", "{employee}", "--service", "mail"]),
    ("find NAME ('mrisho ju') --service mail", "admin", ["find", "{name}", "--service", "mail"]),
    ("find PHONE (every service)", "admin", ["find", "{phone}"]),
    ("find NAME (every service)", "admin", ["find", "{name}"]),
    ("find INSTITUTION (MNRT)", "admin", ["find", "MNRT"]),
    ("find SENDER-ID --service sms", "admin", ["find", "{sender}", "--service", "sms"]),
    ("find USSD code", "admin", ["find", "*152*00#"]),
]


CALLERS = {"admin": ("bench", "admin", []), "operator": ("ict@mnrt.go.tz", "operator", ["MNRT"]),
           "operator of two": ("ict@ega.go.tz", "operator", ["MOH", "MOEST"])}
"""Who runs the look-ups: (subject, role, institutions) of each token. An operator of two
institutions is scoped by an IN list of both, the two biggest senders here."""


# -- the data ----------------------------------------------------------------------------------


@dataclass
class Table:
    name: str
    columns: list[str]
    rows: object  # an iterable of tuples, in column order


def institution_codes() -> list[str]:
    """300 codes in id order: the named big ones, then the rest; MNRT mid-list, the
    late-onboarded councils (SONGWE-MC among them) last."""
    codes = list(NAMED)
    regions = [r.upper().replace(" ", "-")[:12] for r in REGIONS]
    i = 0
    while len(codes) < INSTITUTIONS - 20:
        if len(codes) == 140:
            codes.append("MNRT")
        codes.append(f"{regions[i % len(regions)]}-DC{i // len(regions) + 1}")
        i += 1
    late = ["SONGWE-MC"] + [f"{regions[j % len(regions)]}-TC{j}" for j in range(19)]
    return codes + late


def weights(codes: list[str]) -> list[float]:
    """Zipf-like: the first few institutions hold most of everything; MNRT very little."""
    w = [1.0 / (rank + 1) ** 1.2 for rank in range(len(codes))]
    w[codes.index("MNRT")] = w[-1] * 0.2
    return w


def sqlite_time(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


class DataSet:
    """Generated rows for one size; the same seed gives the same data at a given size."""

    def __init__(self, scale: float, now: dt.datetime):
        self.scale, self.now = scale, now
        self.rng = random.Random(14)
        self.codes = institution_codes()
        self.w = weights(self.codes)
        self.n_mailboxes = max(60, round(MAILBOXES * scale))
        self.n_messages = max(400, round(MESSAGES * scale))
        self.n_big = max(100, round(BIG_BATCH * scale))
        self.n_audit = max(200, round(AUDIT * scale))
        self.big_batch_id = 0
        self.rare_actor = "auditor.kessy@ega.go.tz"
        self.address = ""
        self.phone = ""
        self.sender = ""
        self.employee = ""
        self.name = ""
        self.year_ago = now - dt.timedelta(days=365)

    def values(self) -> dict[str, str]:
        """What the look-ups are filled with (a batch id, an address, …): kept with a kept data set."""
        return {"big": str(self.big_batch_id), "rare_actor": self.rare_actor, "address": self.address,
                "employee": self.employee, "name": self.name, "phone": self.phone, "sender": self.sender,
                "hour_ago": (self.now - dt.timedelta(hours=1)).isoformat()}

    def domain(self, code: str) -> str:
        return f"{code.lower()}.go.tz"

    def tables(self) -> list[Table]:
        return [self.institutions(), self.domains(), *self.mail(), self.senders(), *self.sms(), self.audit()]

    def institutions(self) -> Table:
        def rows():
            for i, code in enumerate(self.codes, start=1):
                at = self.year_ago - dt.timedelta(days=400 - i)
                kind = "ministry" if code.startswith("MO") else "LGA" if "-" in code else "agency"
                yield (i, code, f"{code.title()} (institution {i})", kind, REGIONS[i % len(REGIONS)],
                       f"ict@{self.domain(code)}", at, at, 1)
        return Table("core_institutions", ["id", "code", "name", "kind", "region", "contact_email", "created_at",
                                           "updated_at", "version"], rows())

    def domains(self) -> Table:
        return Table("mail_domains", ["id", "domain", "institution", "naming_rule", "is_primary", "created_at",
                                      "version"],
                     ((i, self.domain(c), c, "given.family", True, self.year_ago, 1)
                      for i, c in enumerate(self.codes, start=1)))

    def mail(self) -> list[Table]:
        from egactl.plugin.rules import name_tokens
        from egactl_mail import rules
        from egactl_mail.server import names

        rng = random.Random(620)
        n = self.n_mailboxes
        early, late = self.codes[:-20], self.codes[-20:]
        early_w = self.w[:-20]
        cut = int(n * 0.95)  # the last 5% of ids: institutions onboarded late
        taken: dict[tuple[str, str], int] = {}
        mailboxes, addresses, tokens, pairs = [], [], [], []
        span = (self.now - self.year_ago).total_seconds()
        for mid in range(1, n + 1):
            code = rng.choices(early, early_w)[0] if mid <= cut else late[rng.randrange(20)]
            given, family = rng.choice(GIVEN), rng.choice(FAMILY)
            base = rules.local_part_for(given, family)
            k = taken.get((code, base), 0) + 1
            taken[(code, base)] = k
            local = base if k == 1 else rules.with_suffix(base, k)
            dom = self.domain(code)
            address = f"{local}@{dom}"
            created = self.year_ago + dt.timedelta(seconds=span * mid / (n + 1))
            roll = rng.random()
            status = ("active" if roll < 0.95 else "suspended" if roll < 0.98 else "deleted" if roll < 0.995
                      else "purged")
            purged = status == "purged"
            changed = created + dt.timedelta(days=rng.randrange(0, 30)) if status != "active" else created
            mailboxes.append((
                mid, code, dom, address, None if purged else f"11{mid:08d}", None if purged else given,
                None if purged else family, None, rng.choice(TITLES), rng.choice(DEPARTMENTS),
                rng.choice((2048, 5120, 10240)), rng.randrange(0, 2000),
                status, "active" if status in ("deleted", "purged") else None,
                "manual" if status == "suspended" else None, changed,
                changed + dt.timedelta(days=90) if status == "deleted" else None,
                None, None, False, created, changed, 1))
            if not purged:  # a mailbox's name words and their pairs (egactl_mail.server.names)
                words = name_tokens(given) + name_tokens(family)
                tokens += [(mid, i, w) for i, w in enumerate(words)]
                pairs += [(mid, a, b) for a, b in sorted(names.pairs_of(words))]
                addresses.append((len(addresses) + 1, address, local, dom, rules.stem(local), "mailbox", code, mid,
                                  None, created))
            if mid == n // 3:
                self.address = address
                self.employee = f"11{mid:08d}"
                self.name = f"{family.lower()} {given[:2].lower()}"  # a name as said: family first, a start
        return [
            Table("mail_mailboxes", ["id", "institution", "domain", "address", "employee_number", "given_name",
                                     "family_name", "preferred_name", "title",
                                     "department", "quota_mb", "used_mb", "status", "deleted_from", "suspended_by",
                                     "status_changed_at", "retain_until", "password_hash", "password_set_at",
                                     "must_change_password", "created_at", "updated_at", "version"], mailboxes),
            Table("mail_addresses", ["id", "address", "local_part", "domain", "stem", "kind", "institution",
                                     "mailbox_id", "list_id", "created_at"], addresses),
            Table("mail_name_tokens", ["mailbox_id", "position", "token"], tokens),
            Table("mail_name_pairs", ["mailbox_id", "first", "second"], pairs),
        ]

    def senders(self) -> Table:
        return Table("sms_senders", ["id", "institution", "name", "name_key", "status", "purpose", "requested_by",
                                     "requested_at", "decided_by", "decided_at", "decision_note", "version"],
                     ((i, c, f"S{i:03d}{c[:6]}"[:11], f"S{i:03d}{c[:6]}"[:11].upper(), "approved", "campaigns",
                       f"ict@{self.domain(c)}", self.year_ago, "admin", self.year_ago, None, 1)
                      for i, c in enumerate(self.codes, start=1)))

    def batch_plan(self) -> list[tuple[str, int]]:
        """(institution, size) of each batch, in id order; one is the big batch, one is MNRT's."""
        rng = random.Random(205)
        rest = self.n_messages - self.n_big
        raw = [rng.paretovariate(1.1) for _ in range(BATCHES - 2)]
        total = sum(raw)
        sizes = [max(1, int(rest * r / total)) for r in raw]
        sizes[0] += max(0, rest - sum(sizes) - 3)
        plan = [(rng.choices(self.codes, self.w)[0], s) for s in sizes]
        plan.insert(BATCHES // 2, ("MNRT", 3))
        big_at = int(BATCHES * 0.8)
        plan.insert(big_at, (self.codes[0], self.n_big))
        self.big_batch_id = big_at + 1
        return plan

    def sms(self) -> list[Table]:
        rng = random.Random(535)
        plan = self.batch_plan()
        span = (self.now - dt.timedelta(days=2) - self.year_ago).total_seconds()
        batches = []
        sender = {c: f"S{i:03d}{c[:6]}"[:11] for i, c in enumerate(self.codes, start=1)}
        self.sender = sender["MNRT"]

        def messages():
            mid = 0
            for bid, (code, size) in enumerate(plan, start=1):
                created = self.year_ago + dt.timedelta(seconds=span * bid / (len(plan) + 1))
                offset, stride = rng.randrange(10 ** 8), 7_919 * (2 * rng.randrange(1, 5000) + 1)
                while stride % 5 == 0:
                    stride += 2
                recent = bid > len(plan) - 3
                for line in range(1, size + 1):
                    mid += 1
                    phone = f"+2557{(offset + line * stride) % 10 ** 8:08d}"
                    if line == 1 and not self.phone:
                        self.phone = phone
                    roll = rng.random()
                    state = ("queued" if recent and roll < 0.02 else "submitted" if roll < 0.04 else
                             "delivered" if roll < 0.92 else "failed" if roll < 0.97 else
                             "rejected" if roll < 0.985 else "expired")
                    reason = {"failed": "gateway: absent subscriber", "rejected": "opted out",
                              "expired": "not sent within 48 hours of its delivery time"}.get(state)
                    sent = created + dt.timedelta(seconds=line // 200)
                    done = state not in ("queued",)
                    yield (mid, bid, code, phone, f"Habari {GIVEN[line % len(GIVEN)]}, taarifa kutoka {code}.",
                           "GSM-7", 1, line, state, reason, True, created, created, 1 if done else 0, None, None,
                           sent if done else None, sent if done else None,
                           sent + dt.timedelta(seconds=5) if state == "delivered" else None,
                           f"gw-{mid}" if done else None)

        for bid, (code, size) in enumerate(plan, start=1):
            created = self.year_ago + dt.timedelta(seconds=span * bid / (len(plan) + 1))
            batches.append((bid, code, "bulk", sender[code], "Habari {name}, taarifa kutoka " + code + ".", None,
                            f"campaign-{bid}.csv", f"bench-{bid}", False, False, None, created, 20.0, "TZS",
                            f"ict@{self.domain(code)}", created, size, size, 0, 0, 0, None, None))
        return [
            Table("sms_batches", ["id", "institution", "kind", "sender", "text", "group_name", "source", "client_ref",
                                  "normalize", "allow_quiet_hours", "scheduled_at", "deliver_after",
                                  "price_per_segment", "currency", "created_by", "created_at", "messages", "segments",
                                  "duplicates", "opted_out", "invalid", "cancelled_at", "cancelled_by"], batches),
            Table("sms_messages", ["id", "batch_id", "institution", "recipient", "body", "encoding", "segments", "line",
                                   "state", "reason", "quiet_ok", "deliver_after", "created_at", "attempts", "claim",
                                   "claimed_at", "dispatched_at", "submitted_at", "delivered_at", "gateway_ref"],
                  messages()),
        ]

    def audit(self) -> Table:
        rng = random.Random(1_000)
        n = self.n_audit
        actors = [f"ict@{self.domain(c)}" for c in self.codes[:40]] + ["admin", "system", "helpdesk@ega.go.tz"]
        actions = ["create", "update", "delete", "suspend", "resume", "send", "import", "approve", "reset-password"]
        resources = ["mailbox", "sms-batch", "institution", "sender", "group", "token"]
        recent = min(RECENT_AUDIT, n // 2)  # the last hour's entries: as many at every size
        hour_ago = self.now - dt.timedelta(hours=1)
        span = (hour_ago - self.year_ago).total_seconds()
        rare = {n // 5, n // 2, n - n // 7}

        def rows():
            for i in range(1, n + 1):
                if i <= n - recent:  # the year before the last hour, evenly
                    at = self.year_ago + dt.timedelta(seconds=span * i / (n - recent + 1))
                else:  # the last hour (up to a minute ago), evenly
                    at = hour_ago + dt.timedelta(seconds=59 * 60 * (i - (n - recent)) / recent)
                actor = self.rare_actor if i in rare else rng.choice(actors)
                action = "purge" if rng.random() < 0.001 else rng.choice(actions)
                code = rng.choices(self.codes, self.w)[0]
                rtype = rng.choice(resources)
                yield (i, at, actor, "operator" if actor.startswith("ict@") else "admin", action, rtype,
                       f"{code}/{i}", code, f"req-{i:08x}", None,
                       json.dumps({"status": "active"}) if action != "create" else None,
                       json.dumps({"status": "suspended" if action == "suspend" else "active"}))
        return Table("core_audit", ["id", "at", "actor", "role", "action", "resource_type", "resource_id",
                                    "institution", "request_id", "reason", "before", "after"], rows())


# -- loading ------------------------------------------------------------------------------------


def sms_counters(cur, mark: str) -> None:
    """The batches' counters (what the sms plugin keeps as messages change state), from the loaded
    messages: one INSERT … SELECT … GROUP BY, as the sms migration that introduced them fills them."""
    import hashlib

    cur.execute("INSERT INTO sms_batch_states (batch_id, state, messages) "
                "SELECT batch_id, state, count(*) FROM sms_messages GROUP BY batch_id, state")
    cur.execute("SELECT batch_id, state, reason, count(*) FROM sms_messages "
                "WHERE state IN ('failed', 'rejected', 'expired') GROUP BY batch_id, state, reason")
    rows = [(b, st, hashlib.sha256((r or "").encode()).hexdigest()[:32], r, n) for b, st, r, n in cur.fetchall()]
    cur.executemany("INSERT INTO sms_batch_reasons (batch_id, state, reason_key, reason, messages) "
                    f"VALUES ({', '.join([mark] * 5)})", rows)


def load_sqlite(path: Path, tables: list[Table]) -> dict[str, float]:
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-200000")
    took = {}
    for t in tables:
        started = time.monotonic()

        def convert(rows):
            for r in rows:
                yield tuple(sqlite_time(v) if isinstance(v, dt.datetime) else int(v) if isinstance(v, bool) else v
                            for v in r)

        con.execute("BEGIN")
        con.executemany(f"INSERT INTO {t.name} ({', '.join(t.columns)}) VALUES ({', '.join('?' * len(t.columns))})",
                        convert(t.rows))
        con.execute("COMMIT")
        took[t.name] = time.monotonic() - started
    started = time.monotonic()
    con.execute("BEGIN")
    sms_counters(con.cursor(), "?")
    con.execute("COMMIT")
    took["sms counters"] = time.monotonic() - started
    started = time.monotonic()
    con.execute("ANALYZE")
    con.execute("PRAGMA optimize")
    con.execute("PRAGMA synchronous=FULL")
    con.close()
    took["ANALYZE"] = time.monotonic() - started
    return took


def load_postgres(url: str, tables: list[Table]) -> dict[str, float]:
    import psycopg

    took = {}
    with psycopg.connect(url, autocommit=False) as con:
        for t in tables:
            started = time.monotonic()
            with con.cursor() as cur:
                with cur.copy(f"COPY {t.name} ({', '.join(t.columns)}) FROM STDIN") as copy:
                    for r in t.rows:
                        copy.write_row(r)
                if "id" in t.columns:  # a table keyed otherwise (mail_name_tokens, _pairs) has no id sequence
                    cur.execute(f"SELECT setval(pg_get_serial_sequence('{t.name}', 'id'), "
                                f"(SELECT coalesce(max(id), 1) FROM {t.name}))")
            con.commit()
            took[t.name] = time.monotonic() - started
        started = time.monotonic()
        with con.cursor() as cur:
            sms_counters(cur, "%s")
        con.commit()
        took["sms counters"] = time.monotonic() - started
    started = time.monotonic()
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("VACUUM ANALYZE")
    took["ANALYZE"] = time.monotonic() - started
    return took


# -- servers --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


class Postgres:
    """A throwaway PostgreSQL 15 on loopback, for this run only (as tests/conftest.py starts one)."""

    def __init__(self, existing: str | None = None, keep: Path | None = None) -> None:
        """``keep``: the server's own directory, kept after the run (``--data``): made by
        ``initdb`` if it holds no server yet, started as it is otherwise."""
        self.existing, self.base, self.kept = existing, None, keep is not None
        if existing:  # a server someone else runs (the test suite's): only databases are made there
            return
        self.base = keep or Path(tempfile.mkdtemp(prefix="egactl-bench-pg-"))
        self.base.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres")
        self.port = free_port()
        self.data = self.base / "data"
        if not (self.data / "PG_VERSION").exists():
            subprocess.run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A",
                                         "trust", "--no-sync", "-E", "UTF8"]), check=True, capture_output=True,
                           timeout=120)
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.base / "log"),
                                     "-w", "-o", f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 "
                                                 f"-c fsync=off -c max_connections=100", "start"]),
                       check=True, capture_output=True, timeout=120)

    def url(self, name: str) -> str:
        """The URL of database ``name`` on this server (as it runs now: a kept server's port changes)."""
        return self.existing.rsplit("/", 1)[0] + "/" + name if self.existing \
            else f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def database(self, name: str) -> str:
        if self.existing:
            import psycopg

            name = f"{name}_{random.randrange(1 << 30):x}"
            with psycopg.connect(self.existing, autocommit=True) as con:
                con.execute(f'CREATE DATABASE "{name}"')
            return self.existing.rsplit("/", 1)[0] + "/" + name
        if self.kept:  # a build an earlier run left half done
            subprocess.run(_as_postgres([str(PG_BIN / "dropdb"), "-h", "127.0.0.1", "-p", str(self.port),
                                         "-U", "postgres", "--if-exists", name]), check=True, capture_output=True,
                           timeout=60)
        subprocess.run(_as_postgres([str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                                     "-U", "postgres", name]), check=True, capture_output=True, timeout=60)
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.base is None:
            return
        if self.kept:  # a clean stop: the next run starts on the same data without recovery
            subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"]),
                           capture_output=True, timeout=300)
            return
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]),
                       capture_output=True, timeout=60)
        shutil.rmtree(self.base, ignore_errors=True)


def egactl_env(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EGACTL_")}
    env.update(PYTHONPATH=os.pathsep.join([str(HERE), str(HERE / "plugins")]),
               EGACTL_CONFIG_DIR=str(workdir / "config"), EGACTL_DATA_DIR=str(workdir / "data"),
               EGACTL_CREDENTIAL_STORE="file", EGACTL_NO_PROGRESS="1", COLUMNS="200")
    return env


def egactl(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "egactl", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def must(r: subprocess.CompletedProcess, what: str) -> subprocess.CompletedProcess:
    if r.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {r.returncode}): {r.stderr.strip()[-800:]}")
    return r


class Serve:
    def __init__(self, env: dict[str, str], url: str, log: Path):
        self.port = free_port()
        self.log = open(log, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "egactl", "serve", "--port", str(self.port),
                                      "--database-url", url, "--no-workers"],
                                     env=env, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"egactl serve exited early (see {log})")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("egactl serve is not listening") from None
                time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


# -- timing --------------------------------------------------------------------------------------

TRACE = re.compile(r"^< (\d{3}) .*\((\d+) ms(?:; server [\d.]+ ms)?\)$")
QUEUE = re.compile(r"queue;dur=([\d.]+)")
APP = re.compile(r"\bapp;dur=([\d.]+)")


@dataclass
class Timing:
    http_ms: float  # median of the CLI's own measure around its request(s)
    server_ms: float | None  # median of the server's own time for them (Server-Timing app;dur=)
    queue_ms: float | None  # median of the server's Server-Timing queue wait
    wall_ms: float  # median wall time of the whole CLI process
    requests: int
    rows: int  # records the look-up printed (-o json): shows it found what it should


def one_run(env: dict[str, str], args: list[str]) -> tuple[float, float | None, float, int, int, float | None]:
    """(http ms, Server-Timing queue ms, CLI wall ms, rows printed, requests, Server-Timing app ms) of one CLI run."""
    started = time.monotonic()
    r = egactl(env, "--debug", "-o", "json", *args, timeout=300)
    took = (time.monotonic() - started) * 1000
    if r.returncode != 0:
        raise RuntimeError(f"egactl {' '.join(args)} failed (exit {r.returncode}): {r.stderr.strip()[-500:]}")
    out = json.loads(r.stdout or "null")
    rows = len(out) if isinstance(out, list) else 1 if out else 0
    ms = [float(m.group(2)) for m in map(TRACE.match, r.stderr.splitlines()) if m]
    q = [float(m.group(1)) for line in r.stderr.splitlines()
         if line.lower().startswith("< server-timing") for m in [QUEUE.search(line)] if m]
    app = [float(m.group(1)) for line in r.stderr.splitlines()
           if line.lower().startswith("< server-timing") for m in [APP.search(line)] if m]
    return sum(ms), sum(q) if q else None, took, rows, len(ms), sum(app) if app else None


def summary(runs: list[tuple[float, float | None, float, int, int, float | None]]) -> Timing:
    queue = [r[1] for r in runs if r[1] is not None]
    server = [r[5] for r in runs if r[5] is not None]
    return Timing(statistics.median(r[0] for r in runs), statistics.median(server) if server else None,
                  statistics.median(queue) if queue else None,
                  statistics.median(r[2] for r in runs), runs[-1][4], runs[-1][3])


@dataclass
class Built:
    label: str
    env: dict[str, str]
    url: str
    tokens: dict[str, str]  # a token for each of CALLERS
    values: dict[str, str]  # what the look-ups are filled with (DataSet.values)
    took: dict[str, float]
    database: str = ""  # PostgreSQL: the database's name (its server's port changes from run to run)

    def record(self) -> dict:
        """What a kept data set (--data) remembers of it: tokens (the file is 0600), look-up values."""
        return {"tokens": self.tokens, "values": self.values, "took": self.took, "database": self.database}


def token(env: dict[str, str], url: str, who: str) -> str:
    subject, role, codes = CALLERS[who]
    r = must(egactl(env, "serve", "tokens", "create", "--role", role, "--subject", subject,
                    *(a for code in codes for a in ("-i", code)), "--database-url", url, "-o", "json"),
             f"serve tokens create ({who})")
    return json.loads(r.stdout)["token"]


def build(backend: str, scale: float, workdir: Path, pg: Postgres | None, log=print) -> Built:
    """The schema by `egactl serve migrate`, tokens by `egactl serve tokens`, the data bulk-loaded."""
    label = f"{backend}-{scale:g}"
    env = egactl_env(workdir / label)
    url = pg.database(f"scale_{label.replace('.', '_').replace('-', '_')}") if backend == "postgres" \
        else f"sqlite:///{workdir / (label + '.db')}"
    for suffix in ("", "-wal", "-shm"):  # a build an earlier --data run left half done
        if backend == "sqlite":
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    must(egactl(env, "serve", "migrate", "--database-url", url), "egactl serve migrate")
    now = dt.datetime.now(dt.timezone.utc)
    data = DataSet(scale, now)
    started = time.monotonic()
    tables = data.tables()
    took = load_sqlite(Path(url.removeprefix("sqlite:///")), tables) if backend == "sqlite" else load_postgres(url, tables)
    took["total"] = time.monotonic() - started
    log(f"  built {label}: {data.n_mailboxes} mailboxes, {data.n_messages} messages (big batch {data.n_big}), "
        f"{data.n_audit} audit entries in {took['total']:.0f} s "
        f"({', '.join(f'{k} {v:.0f} s' for k, v in took.items() if k != 'total')})")
    return Built(label, env, url, {who: token(env, url, who) for who in CALLERS}, data.values(), took,
                 url.rsplit("/", 1)[1] if backend == "postgres" else "")


def reuse(backend: str, scale: float, workdir: Path, pg: Postgres | None, record: dict, log=print) -> Built:
    """A data set a previous run built into ``--data``: brought up to this release's schema by
    `egactl serve migrate` (so a new index is timed; then ANALYZEd, as after the load), not rebuilt."""
    label = f"{backend}-{scale:g}"
    env = egactl_env(workdir / label)
    url = pg.url(record["database"]) if backend == "postgres" else f"sqlite:///{workdir / (label + '.db')}"
    started = time.monotonic()
    r = must(egactl(env, "serve", "migrate", "--database-url", url, "-o", "json", timeout=3600),
             "egactl serve migrate")
    upgraded = [f"{c['component']} {c['from']} -> {c['to']}" for c in json.loads(r.stdout) if c["action"] != "none"]
    if upgraded:
        analyze(url)
    log(f"  reused {label} from {workdir}" + (f": migrated ({'; '.join(upgraded)}) and ANALYZEd in "
                                              f"{time.monotonic() - started:.0f} s" if upgraded else ""))
    tokens = record.get("tokens") or {"admin": record["admin"], "operator": record["operator"]}
    for who in CALLERS:  # a caller this set was built without (a look-up added since)
        if who not in tokens:
            tokens[who] = token(env, url, who)
    return Built(label, env, url, tokens, record["values"], record["took"], record["database"])


def analyze(url: str) -> None:
    if url.startswith("sqlite:///"):
        con = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        con.execute("ANALYZE")
        con.execute("PRAGMA optimize")
        con.close()
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        con.execute("ANALYZE")


class Kept:
    """``--data DIR``: the data sets built there by an earlier run, by label, in DIR/sets.json (0600:
    it holds the tokens); its scale must be this run's."""

    def __init__(self, directory: Path, scale: float):
        self.dir, self.file = directory, directory / "sets.json"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.state = json.loads(self.file.read_text()) if self.file.exists() else {"scale": scale, "sets": {}}
        if self.state["scale"] != scale:
            raise SystemExit(f"--data {directory}: holds the data of --scale {self.state['scale']:g}, "
                             f"not {scale:g} (use another directory, or empty this one)")

    def get(self, label: str) -> dict | None:
        return self.state["sets"].get(label)

    def put(self, b: Built) -> None:
        self.state["sets"][b.label] = b.record()
        self.file.touch(mode=0o600)
        self.file.write_text(json.dumps(self.state, indent=1))


def measure(sizes: list[Built], workdir: Path, repeat: int, warm: bool, lookups=LOOKUPS,
            log=print) -> list[dict[str, Timing]]:
    """Every look-up on each size, the sizes taking turns run by run (one `egactl serve` each, side
    by side), so that whatever else the machine does weighs on both alike: the ratio is of the
    same moments."""
    servers = []
    try:
        for b in sizes:
            servers.append(Serve(b.env, b.url, workdir / f"serve-{b.label}.log"))
        bases = [{**b.env, "EGACTL_API_URL": f"http://127.0.0.1:{s.port}"} for b, s in zip(sizes, servers)]
        # `sms list --status` is being renamed `--state` (the old spelling stays, with a notice).
        help_text = egactl({**bases[0], "EGACTL_TOKEN": sizes[0].tokens["admin"]}, "sms", "list", "--help").stdout
        state_flag = "--state" if "--state" in help_text else "--status"
        results: list[dict[str, Timing]] = [{} for _ in sizes]
        for name, who, args in lookups:
            runs: list[list] = [[] for _ in sizes]
            for i in range(repeat + (1 if warm else 0)):
                for k, (b, base) in enumerate(zip(sizes, bases)):
                    values = b.values
                    cli_env = {**base, "EGACTL_TOKEN": b.tokens[who]}
                    run = one_run(cli_env, [state_flag if a == "--status" else a.format(**values) for a in args])
                    if not (warm and i == 0):
                        runs[k].append(run)
            for k, b in enumerate(sizes):
                results[k][name] = t = summary(runs[k])
            log(f"    {name}: " + ", ".join(f"{b.label} {fmt(r[name].http_ms)} ms, server {fmt(r[name].server_ms)} ms "
                                             f"({r[name].rows} rows)"
                                             for b, r in zip(sizes, results)))
        return results
    finally:
        for s in servers:
            s.stop()


def fmt(ms: float | None) -> str:
    return "-" if ms is None else f"{ms:.0f}" if ms >= 10 else f"{ms:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="the '100%%' size as a share of national size")
    parser.add_argument("--backend", default="sqlite,postgres", help="sqlite, postgres or both")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per look-up (the median is shown)")
    parser.add_argument("--small", action="store_true", help="1/1000 of national size, one timed run, no warm-up "
                                                             "(the test suite's mode: checks the script runs)")
    parser.add_argument("--postgres-url", help="a PostgreSQL server to make the databases on (URL of a database "
                                               "there whose user may CREATE DATABASE); default: start a throwaway one")
    parser.add_argument("--only", action="append", default=[], metavar="TEXT",
                        help="time only the look-ups whose name holds TEXT (repeatable; default: all)")
    parser.add_argument("--data", type=Path, help="keep the built data sets (and the PostgreSQL server's "
                                                  "directory) in this directory, and reuse what it holds")
    args = parser.parse_args()
    lookups = [entry for entry in LOOKUPS if not args.only or any(t in entry[0] for t in args.only)]
    if not lookups:
        parser.error(f"no look-up's name holds {' or '.join(map(repr, args.only))}")
    scale, repeat, warm = (0.001, 1, False) if args.small else (args.scale, args.repeat, True)
    backends = [b.strip() for b in args.backend.split(",") if b.strip()]
    for b in backends:
        if b not in ("sqlite", "postgres"):
            parser.error(f"unknown backend {b!r} (sqlite, postgres)")
    if args.data and args.postgres_url and "postgres" in backends:
        parser.error("--data keeps its own PostgreSQL server's directory; not with --postgres-url")
    kept = Kept(args.data.resolve(), scale) if args.data else None
    workdir = kept.dir if kept else Path(tempfile.mkdtemp(prefix="egactl-bench-scale-"))
    sizes = [("10%", scale / 10), ("100%", scale)]
    print(f"national size x {scale:g} as '100%', x {scale / 10:g} as '10%'; median of {repeat} "
          f"run(s) through the CLI against `egactl serve`", flush=True)
    pg = Postgres(args.postgres_url, keep=kept.dir / "postgres" if kept else None) if "postgres" in backends else None
    results: dict[tuple[str, str], dict[str, Timing]] = {}
    try:
        for backend in backends:
            built = []
            for _, s in sizes:
                record = kept.get(f"{backend}-{s:g}") if kept else None
                if record:
                    built.append(reuse(backend, s, workdir, pg, record, log=lambda m: print(m, flush=True)))
                    kept.put(built[-1])  # with a token made for a caller added since
                    continue
                built.append(build(backend, s, workdir, pg, log=lambda m: print(m, flush=True)))
                if kept:
                    kept.put(built[-1])
            timed = measure(built, workdir, repeat, warm, lookups, log=lambda m: print(m, flush=True))
            for (size, _), t in zip(sizes, timed):
                results[(backend, size)] = t
            if backend == "sqlite" and not kept:
                for b in built:
                    for suffix in ("", "-wal", "-shm"):
                        Path(b.url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    finally:
        if pg:
            pg.stop()
    print()
    print("ms: the CLI's own measure around its request(s); server: the server's own time for them "
          "(Server-Timing app;dur=), of which 'queue' waited for admission; wall: the whole CLI process")
    head = (f"{'look-up':<40} {'backend':<9} {'10% ms':>8} {'100% ms':>8} {'100/10':>7} {'10% srv':>8} "
            f"{'100% srv':>8} {'srv 100/10':>10} {'queue':>6} {'wall 100%':>10} {'rows':>5}")
    print(head)
    print("-" * len(head))
    for name, _, _ in lookups:
        for backend in backends:
            a, b = results[(backend, "10%")][name], results[(backend, "100%")][name]
            ratio = f"{b.http_ms / a.http_ms:.2f}x" if a.http_ms else "-"
            server_ratio = f"{b.server_ms / a.server_ms:.2f}x" if a.server_ms and b.server_ms is not None else "-"
            print(f"{name:<40} {backend:<9} {fmt(a.http_ms):>8} {fmt(b.http_ms):>8} {ratio:>7} "
                  f"{fmt(a.server_ms):>8} {fmt(b.server_ms):>8} {server_ratio:>10} "
                  f"{fmt(b.queue_ms):>6} {fmt(b.wall_ms):>10} {b.rows:>5}", flush=True)
    if not kept:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
