"""Claiming addresses: the one way any address (mailbox, alias, list) is taken.

Race-freedom comes from the database, not from looking first:

- ``mail_addresses.address`` is unique, so a second claim of one address fails
  at the database whatever the application believed;
- the suffix of a generated address is chosen inside the creating transaction,
  after taking the domain's allocation lock (a transaction-scoped advisory lock
  on PostgreSQL; on SQLite the write transaction already holds the database's
  single write lock). While the lock is held nobody else claims in that
  domain, so the set of taken local parts read under it stays exact until
  commit — which also lets a bulk request allocate many addresses from one read.

Locks are taken in sorted domain order by requests that need several, so two
such requests cannot deadlock.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from egactl.plugin.server import lock as named_lock
from egactl_mail import rules
from egactl_mail.server.models import MailAddress, Mailbox, MailList


class Allocator:
    """Per-transaction view of taken addresses, valid while the domain locks are held."""

    def __init__(self, session: Session, now):
        self.session = session
        self.now = now
        self.locked: set[str] = set()
        self.taken: dict[tuple[str, str], set[str]] = {}
        # Where the last search for a base ended: a name shared by hundreds of staff
        # need not re-test every suffix below it for each new person.
        self.hint: dict[tuple[str, str], int] = {}

    def lock(self, *domains: str) -> None:
        for domain in sorted(set(domains) - self.locked):
            named_lock(self.session, f"mail-address:{domain}")
            self.locked.add(domain)

    def preload(self, domain: str, stems: set[str]) -> None:
        """Read every taken local part with one of these stems in ``domain`` (one query)."""
        self.lock(domain)
        missing = [s for s in stems if (domain, s) not in self.taken]
        for s in missing:
            self.taken[(domain, s)] = set()
        for i in range(0, len(missing), 500):
            part = missing[i:i + 500]
            rows = self.session.execute(select(MailAddress.stem, MailAddress.local_part)
                                        .where(MailAddress.domain == domain, MailAddress.stem.in_(part)))
            for s, local in rows:
                self.taken[(domain, s)].add(local)

    def is_taken(self, local: str, domain: str) -> bool:
        s = rules.stem(local)
        self.preload(domain, {s})
        return local in self.taken[(domain, s)]

    def next_free(self, base: str, domain: str) -> str:
        """The smallest free candidate: ``base``, then ``base2``, ``base3``…"""
        s = rules.stem(base)
        self.preload(domain, {s})
        taken = self.taken[(domain, s)]
        n = self.hint.get((domain, base), 1)
        while rules.with_suffix(base, n) in taken:
            n += 1
        self.hint[(domain, base)] = n
        return rules.with_suffix(base, n)

    def reserve(self, local: str, domain: str) -> None:
        """Count ``local`` as taken for the rest of this transaction (its row is inserted in bulk)."""
        self.taken.setdefault((domain, rules.stem(local)), set()).add(local)

    def claim(self, local: str, domain: str, *, kind: str, institution: str, mailbox: Mailbox | None = None,
              mail_list: MailList | None = None) -> MailAddress:
        """Add the claim to the session (the caller flushes; the unique index has the last word)."""
        self.lock(domain)
        row = MailAddress(address=f"{local}@{domain}", local_part=local, domain=domain, stem=rules.stem(local),
                          kind=kind, institution=institution, mailbox=mailbox, mail_list=mail_list,
                          created_at=self.now)
        self.session.add(row)
        self.taken.setdefault((domain, row.stem), set()).add(local)
        return row

    def release(self, row: MailAddress) -> None:
        self.lock(row.domain)
        self.taken.get((row.domain, row.stem), set()).discard(row.local_part)
        self.hint.clear()
        self.session.delete(row)
