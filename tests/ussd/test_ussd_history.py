"""ussd history: every state change of a code, who, when and why, from the audit log;
newest first (the latest change is what a help desk asks about), --oldest-first to tell
the story from the start."""

from __future__ import annotations

ASSIGN = ("--service", "Huduma", "--purpose", "Citizen services", "--callback-url", "https://ussd.example.go.tz/u")


def ok(r):
    assert r.exit_code == 0, r.stderr
    return r


def test_history_tells_the_whole_story(cli, clock):
    ok(cli("ussd", "reserve", "-i", "RITA", "--reference", "RITA/ICT/2026/14", "--code", "7", role="operator"))
    clock.advance(days=3)
    ok(cli("ussd", "assign", "-i", "RITA", "--code", "7", *ASSIGN))
    clock.advance(days=30)
    ok(cli("ussd", "suspend", "07", "--reason", "fraud reports from subscribers", "--yes"))
    clock.advance(hours=6)
    ok(cli("ussd", "resume", "07", "--reason", "fraud cleared", role="operator"))
    clock.advance(days=200)
    ok(cli("ussd", "release", "07", "--reason", "service moved to the e-Government portal", "--yes"))

    r = ok(cli("ussd", "history", "*152*07#", "--oldest-first", "-o", "json"))
    story = [(h["action"], h["from_state"], h["to_state"], h["actor"], h["reason"], h["at"][:10]) for h in r.json()]
    assert story == [
        ("reserve", "available", "reserved", "ops@rita.go.tz", None, "2026-11-22"),
        ("assign", "reserved", "assigned", "admin@ega.go.tz", None, "2026-11-25"),
        ("suspend", "assigned", "suspended", "admin@ega.go.tz", "fraud reports from subscribers", "2026-12-25"),
        ("resume", "suspended", "assigned", "ops@rita.go.tz", "fraud cleared", "2026-12-25"),
        ("release", "assigned", "released", "admin@ega.go.tz", "service moved to the e-Government portal", "2027-07-13"),
    ]

    newest = ok(cli("ussd", "history", "*152*07#", "-o", "json")).json()
    assert [(h["action"], h["at"][:10]) for h in newest] == [(a, at) for a, _, _, _, _, at in reversed(story)]

    table = ok(cli("ussd", "history", "7")).stdout.splitlines()
    assert table[0].split() == ["WHEN", "WHO", "ACTION", "FROM", "TO", "INSTITUTION", "WHY"]
    assert "release" in table[1] and "service moved to the e-Government portal" in table[1]
    assert "2026-12-25 12:00 EAT" in table[3] and "fraud reports from subscribers" in table[3]
    assert len(table) == 6


def test_history_spans_holders(cli, clock):
    ok(cli("ussd", "assign", "-i", "TRA", "--code", "2", *ASSIGN))
    ok(cli("ussd", "release", "2", "--reason", "TRA moved", "--yes"))
    clock.advance(days=91)
    ok(cli("ussd", "assign", "-i", "NIDA", *ASSIGN, "--code", "2"))
    r = ok(cli("ussd", "history", "2", "-o", "json"))
    assert [(h["action"], h["institution"], h["from_state"]) for h in r.json()] == [
        ("assign", "NIDA", "available"), ("release", "TRA", "assigned"), ("assign", "TRA", "available")]


def test_history_of_an_untouched_code_is_empty(cli):
    assert ok(cli("ussd", "history", "55", "-o", "json")).json() == []
    r = ok(cli("ussd", "history", "55"))
    assert r.stdout == ""  # an empty table prints no header: it says so on stderr
    assert r.stderr.strip()


def test_history_limit(cli):
    ok(cli("ussd", "assign", "-i", "TRA", "--code", "3", *ASSIGN))
    for i in range(3):
        ok(cli("ussd", "suspend", "3", "--reason", f"round {i}", "--yes"))
        ok(cli("ussd", "resume", "3", "--reason", f"round {i} over"))
    latest = ok(cli("ussd", "history", "3", "--limit", "2", "-o", "json")).json()
    assert [(h["action"], h["reason"]) for h in latest] == [("resume", "round 2 over"), ("suspend", "round 2")]
    first = ok(cli("ussd", "history", "3", "--limit", "2", "--oldest-first", "-o", "json")).json()
    assert [(h["action"], h["reason"]) for h in first] == [("assign", None), ("suspend", "round 0")]
    everything = ok(cli("ussd", "history", "3", "--all", "-o", "json")).json()
    assert len(everything) == 7 and everything[0]["reason"] == "round 2 over"
    # --oldest-first is the same entries, the other way round.
    assert [h["id"] for h in ok(cli("ussd", "history", "3", "--all", "--oldest-first", "-o", "json")).json()] == [
        h["id"] for h in reversed(everything)]
