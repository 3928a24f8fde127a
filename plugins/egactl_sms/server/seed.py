"""Sandbox example data: an approved sender ID for each seeded institution, so
`egactl sms send` works on a fresh machine; a request waiting for e-GA's decision
(TRA's ``TRA KODI``); and for RITA a small history for the look-ups to show (and
the help's examples to run against): the contact group ``wateja`` of three
members, one of whom opted out, and one group send to it (batch 1: two messages,
delivered, in the outbox)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from egactl.plugin.server import Institution
from egactl_sms import rules
from egactl_sms.server import lifecycle, names
from egactl_sms.server.models import Batch, Group, GroupMember, Message, OptOut, OutboxEntry, Sender
from egactl_sms.server.workers import SETTINGS

DEMO_INSTITUTION = "RITA"
DEMO_GROUP = "wateja"
DEMO_MEMBERS = [("+255713200001", "Juma Mrisho"), ("+255713200002", "Asha Said"), ("+255713200003", "Neema Kweka")]
DEMO_OPTED_OUT = "+255713200003"
DEMO_TEXT = "Karibu huduma za RITA kwa SMS: taarifa za vyeti vya kuzaliwa na vifo."
DEMO_REQUEST = ("TRA", "TRA KODI", "tax payment reminders")


def seed(session, now) -> None:
    for code in session.scalars(select(Institution.code).order_by(Institution.code)):
        name = code.replace("-", "")[:rules.SENDER_MAX]
        if rules.check_sender_id(name) is None:
            session.add(Sender(institution=code, name=name, name_key=rules.sender_key(name), status="approved",
                               purpose="sandbox example", requested_by="sandbox", requested_at=now,
                               decided_by="sandbox", decided_at=now, decision_note="sandbox example", version=1))
    session.flush()
    codes = set(session.scalars(select(Institution.code)))
    inst, name, purpose = DEMO_REQUEST
    if inst in codes:
        session.add(Sender(institution=inst, name=name, name_key=rules.sender_key(name), status="pending",
                           purpose=purpose, requested_by="sandbox", requested_at=now, version=1))
    if DEMO_INSTITUTION in codes:
        _history(session, now)


def _history(session, now: dt.datetime) -> None:
    inst, sender = DEMO_INSTITUTION, DEMO_INSTITUTION
    created = now - dt.timedelta(hours=2)
    group = Group(institution=inst, name=DEMO_GROUP, description="sandbox example: citizens who asked for news",
                  created_by="sandbox", created_at=created, updated_at=created, version=1)
    session.add(group)
    session.flush()
    members = [GroupMember(group_id=group.id, phone=p, name=n, added_at=created) for p, n in DEMO_MEMBERS]
    session.add_all(members)
    session.flush()
    names.index(session, [(m.id, m.name) for m in members])
    session.add(OptOut(institution=inst, phone=DEMO_OPTED_OUT, reason="replied STOP", created_by="sandbox",
                       created_at=created + dt.timedelta(minutes=30)))
    sent = now - dt.timedelta(hours=1)
    _, analysis = rules.measure(DEMO_TEXT)
    recipients = [p for p, _ in DEMO_MEMBERS if p != DEMO_OPTED_OUT]
    batch = Batch(institution=inst, kind="group", sender=sender, text=DEMO_TEXT, group_name=DEMO_GROUP,
                  normalize=False, allow_quiet_hours=False, deliver_after=sent,
                  price_per_segment=float(SETTINGS["price_per_segment"]), currency=str(SETTINGS["currency"]),
                  created_by="sandbox", created_at=sent, messages=len(recipients),
                  segments=len(recipients) * analysis.segments, duplicates=0, opted_out=1, invalid=0)
    session.add(batch)
    session.flush()
    for i, phone in enumerate(recipients):
        done = sent + dt.timedelta(seconds=5 + i)
        message = Message(batch_id=batch.id, institution=inst, recipient=phone, body=DEMO_TEXT,
                          encoding=analysis.encoding, segments=analysis.segments, state="delivered", quiet_ok=True,
                          deliver_after=sent, created_at=sent, attempts=1, submitted_at=done, delivered_at=done,
                          dispatched_at=done)
        session.add(message)
        session.flush()
        session.add(OutboxEntry(message_id=message.id, batch_id=batch.id, institution=inst, sender=sender,
                                recipient=phone, body=DEMO_TEXT, encoding=analysis.encoding,
                                segments=analysis.segments, sent_at=done))
    lifecycle.stored(session, batch.id, len(recipients), state="delivered")
