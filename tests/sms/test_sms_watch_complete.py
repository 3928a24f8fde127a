"""sms report --watch (the core's watch loop) follows a batch until nothing of it waits for
the gateway; completion offers sender IDs, group names and states from the API."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from egactl.plugin.testing import complete


@pytest.fixture
def sender(cli):
    assert cli("sms", "senders", "request", "RITA", "-i", "RITA", role="operator").exit_code == 0
    assert cli("sms", "senders", "approve", "RITA").exit_code == 0
    return "RITA"


def _scheduled_send(cli, clock) -> int:
    at = (clock() + dt.timedelta(hours=1)).astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    r = cli("sms", "send", "--to", "0754123456,0754123457", "-i", "RITA", "--at", at, "Kikao kesho",
            "-o", "json", role="operator")
    assert r.exit_code == 0, r.stderr
    return r.json()["id"]


def test_report_watch_follows_the_batch_until_nothing_waits(cli, backend, clock, sender):
    batch = _scheduled_send(cli, clock)
    pauses = []

    def sleep(seconds):  # between two readings: time passes and the delivery worker runs
        pauses.append(seconds)
        clock.advance(minutes=40)
        backend.run_workers()

    r = cli("sms", "report", str(batch), "--watch", "-o", "jsonl", role="operator", sleep=sleep)
    assert r.exit_code == 0, r.stderr
    readings = [json.loads(line) for line in r.stdout.splitlines()]
    assert [x["states"]["queued"] for x in readings] == [2, 0]  # the unchanged middle reading: not printed
    assert readings[-1]["states"]["delivered"] == 2
    assert pauses == [5.0, 5.0]  # --watch without SECONDS: every 5 s, until settled


def test_report_watch_piped_as_a_table_prints_one_line_per_change(cli, backend, clock, sender):
    batch = _scheduled_send(cli, clock)

    def sleep(seconds):
        clock.advance(hours=2)
        backend.run_workers()

    r = cli("sms", "report", str(batch), "--watch", "2", role="operator", sleep=sleep)
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["BATCH", str(batch)]
    assert lines[-1].split()[:2] == [str(batch), "quick"] and len(lines[-1].split()) > 10
    assert cli("sms", "report", str(batch), "--watch", "0.1").exit_code == 2


def test_report_watch_of_a_settled_batch_reads_once(cli, backend, sender):
    r = cli("sms", "send", "--to", "0754123456", "-i", "RITA", "Habari", "-o", "json", role="operator")
    backend.run_workers()
    w = cli("sms", "report", str(r.json()["id"]), "--watch", "1", "-o", "jsonl",
            sleep=lambda s: pytest.fail("a settled batch is not watched further"))
    assert w.exit_code == 0 and len(w.stdout.splitlines()) == 1




def test_completion_offers_sender_ids_group_names_and_states():
    # from the sandbox's seed: its sender IDs, RITA's group, and the states of the rules
    assert complete("egactl sms senders approve TRA") == ["TRA", "TRA KODI"]
    assert complete("egactl sms send --from UD") == ["UDOM"]
    assert complete("egactl sms group show wa") == ["wateja"]
    assert complete("egactl sms list --state de") == ["delivered"]
    assert complete("egactl sms senders list -s w") == ["withdrawn"]
