"""ussd simulate: a real (tiny) USSD application on loopback, played the way the
gateway plays it; a two-level menu, and every reply a gateway would reject."""

from __future__ import annotations

import asyncio
import io

import pytest
from conftest import free_port, serving_in_thread

SEEN: list[dict[str, str]] = []

MENU = {
    "": "CON Karibu RITA\n1. Cheti cha kuzaliwa\n2. Hali ya ombi",
    "1": "CON Cheti cha kuzaliwa\n1. Omba cheti\n2. Gharama",
    "1*1": "END Ombi lako limepokelewa. Utapokea SMS.",
    "1*2": "END Gharama ni TSh 3,500",
    "2": "CON Weka namba ya ombi",
}


def ussd_app():
    """RITA's (imaginary) USSD service, and some badly behaved neighbours."""
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse, RedirectResponse
    from starlette.routing import Route

    async def rita(request):
        form = dict(await request.form())
        SEEN.append(form)
        text = form["text"]
        if text in MENU:
            return PlainTextResponse(MENU[text])
        if text.startswith("2*"):
            return PlainTextResponse(f"END Ombi {text[2:]} linashughulikiwa")
        return PlainTextResponse("END Chaguo si sahihi")

    async def no_prefix(request):
        return PlainTextResponse("Karibu RITA\n1. Cheti")

    async def long_second_screen(request):
        text = (await request.form())["text"]
        return PlainTextResponse("CON Chagua\n1. Zaidi" if text == "" else "CON " + "x" * 183)

    async def at_the_limit(request):
        return PlainTextResponse("END " + "y" * 182)

    async def slow(request):
        await asyncio.sleep(1.5)
        return PlainTextResponse("END Samahani, nimechelewa")

    async def broken(request):
        return PlainTextResponse("Internal error", status_code=500)

    async def moved(request):
        return RedirectResponse("/rita", status_code=302)

    def fixed(reply: str, status: int = 200):
        async def answer(request):
            return PlainTextResponse(reply, status_code=status)
        return answer

    return Starlette(routes=[Route(path, fn, methods=["POST"]) for path, fn in (
        ("/rita", rita), ("/no-prefix", no_prefix), ("/long", long_second_screen), ("/limit", at_the_limit),
        ("/slow", slow), ("/broken", broken), ("/moved", moved),
        *((path, fixed(reply)) for path, reply in SCREENS.items()),
        ("/error-page", fixed(ERROR_PAGE, 500)))])


# Screens measured as the network measures them (reply bodies, prefix included).
SCREENS = {
    "/brackets-at-limit": "END " + "[" * 91,         # 182 septets: each [ is an escape plus one
    "/brackets-over": "END " + "[" * 92,             # 92 characters, but 184 septets
    "/euro-over": "END Ada " + "€" * 90,             # 94 characters, 184 septets
    "/ucs2-menu": "CON Karibu ‘RITA’\n1. Cheti",    # curly quotes: not in GSM 03.38
    "/ucs2-at-limit": "END " + "’" + "x" * 79,       # 80 UCS-2 units
    "/ucs2-over": "END " + "’" + "x" * 80,           # 81 characters: fine for GSM-7, too many for UCS-2
    "/emoji-at-limit": "END " + "\U0001F600" * 40,   # 40 surrogate pairs: 80 units
    "/emoji-over": "END " + "\U0001F600" * 41,       # 41 characters, 82 units
}
ERROR_PAGE = "<html><body><h1>Internal Server Error</h1><pre>" + "Traceback line\n" * 400 + "END-OF-PAGE</pre></body></html>"


@pytest.fixture(scope="module")
def app_url():
    with serving_in_thread(ussd_app(), "the test USSD application") as url:
        yield url


@pytest.fixture
def rita(cli, app_url):
    """*152*07# assigned to RITA, its callback the application above."""
    SEEN.clear()
    r = cli("ussd", "assign", "-i", "RITA", "--code", "07", "--service", "RITA Vyeti", "--purpose",
            "Birth certificates", "--callback-url", f"{app_url}/rita")
    assert r.exit_code == 0, r.stderr
    return app_url


def test_a_two_level_menu_scripted(cli, rita):
    r = cli("ussd", "simulate", "*152*07#", "--input", "1*1", "-o", "json")
    assert r.exit_code == 0, r.stderr
    t = r.json()
    assert t["outcome"] == "ended" and t["error"] is None
    assert [(s["text"], s["input"], s["kind"], s["screen"]) for s in t["steps"]] == [
        ("", None, "CON", "Karibu RITA\n1. Cheti cha kuzaliwa\n2. Hali ya ombi"),
        ("1", "1", "CON", "Cheti cha kuzaliwa\n1. Omba cheti\n2. Gharama"),
        ("1*1", "1", "END", "Ombi lako limepokelewa. Utapokea SMS."),
    ]
    # What the application received is exactly what the gateway sends.
    assert [f["text"] for f in SEEN] == ["", "1", "1*1"]
    assert {f["sessionId"] for f in SEEN} == {t["session_id"]}
    assert all(f["serviceCode"] == "*152*07#" and f["phoneNumber"] == "+255700000000" and f["networkCode"] == "64004"
               for f in SEEN)


def test_screens_for_people(cli, rita):
    r = cli("ussd", "simulate", "7", "--input", "1*2")
    assert r.exit_code == 0, r.stderr
    out = r.stdout
    assert "Karibu RITA\n1. Cheti cha kuzaliwa\n2. Hali ya ombi\n> 1\n" in out
    assert out.rstrip().endswith("Gharama ni TSh 3,500")
    assert out.count("── CON") == 2 and out.count("── END") == 1
    assert "Dialling *152*07# from +255700000000 on Vodacom" in r.stderr
    assert "Session ended cleanly after 3 screens" in r.stderr


def test_subscriber_and_network(cli, rita):
    r = cli("ussd", "simulate", "07", "--input", "2*RITA-2026-1187", "--phone", "0754 123 456", "--network", "airtel",
            "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["steps"][-1]["screen"] == "Ombi RITA-2026-1187 linashughulikiwa"
    assert {(f["phoneNumber"], f["networkCode"]) for f in SEEN} == {("+255754123456", "64005")}


def test_bad_phone_or_network_sends_nothing(cli, rita):
    assert cli("ussd", "simulate", "07", "--phone", "+254712345678").exit_code == 2
    assert cli("ussd", "simulate", "07", "--network", "safaricom").exit_code == 2
    assert cli("ussd", "simulate", "07", "--input", "1**2").exit_code == 2
    assert SEEN == []


def test_input_runs_out_while_the_session_is_open(cli, rita):
    r = cli("ussd", "simulate", "07", "--input", "1", "-o", "json")
    assert r.exit_code == 2
    assert r.json()["outcome"] == "open"
    assert len(r.json()["steps"]) == 2
    r = cli("ussd", "simulate", "07")  # no terminal and no --input: say which flag is missing
    assert r.exit_code == 2
    assert "--input" in r.stderr
    assert "Karibu RITA" in r.stdout


def test_input_left_over_after_end_is_reported(cli, rita):
    r = cli("ussd", "simulate", "07", "--input", "1*1*9*9")
    assert r.exit_code == 0, r.stderr
    assert "2 more choices of --input could be used: 9*9" in r.stderr


REJECTIONS = [
    ("/no-prefix", [], 1, "starts with neither 'CON ' nor 'END '"),
    ("/long", ["1"], 1, "is 183 GSM-7 septets ([ ] { } € ~ ^ | \\ count two); the gateway allows at most 182"),
    ("/broken", [], 1, "HTTP 500"),
    ("/moved", [], 1, "redirected (HTTP 302"),
    ("/slow", [], 7, "did not answer within 0.5 s"),
]


@pytest.mark.parametrize("path,choices,code,message", REJECTIONS, ids=[r[0][1:] for r in REJECTIONS])
def test_what_the_gateway_rejects(cli, app_url, path, choices, code, message):
    args = ["ussd", "simulate", "07", "--url", app_url + path, "--timeout", "0.5"]
    if choices:
        args += ["--input", "*".join(choices)]
    r = cli(*args)
    assert r.exit_code == code, r.stderr
    assert message in r.stderr
    if code == 1 and path != "/moved":  # people are shown the reply the gateway would refuse
        assert "── refused (HTTP" in r.stdout
    r = cli(*args, "-o", "json")
    assert r.exit_code == code
    transcript = r.json()
    assert transcript["outcome"] == ("unreachable" if code == 7 else "rejected")
    assert message in transcript["error"]
    assert len(transcript["steps"]) == len(choices) + 1


def test_a_screen_of_exactly_182_characters_passes(cli, app_url):
    r = cli("ussd", "simulate", "07", "--url", app_url + "/limit", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["steps"][0]["screen_length"] == 182


def test_unreachable_application(cli):
    r = cli("ussd", "simulate", "07", "--url", f"http://127.0.0.1:{free_port()}/ussd")
    assert r.exit_code == 7
    assert "could not reach the application" in r.stderr


def test_a_bad_url_is_refused_naming_the_flag_that_was_typed(cli):
    """--url was blamed on --callback-url, a flag `simulate` does not have."""
    r = cli("ussd", "simulate", "07", "--url", "ftp://ussd.rita.go.tz/ussd")
    assert r.exit_code == 2
    assert r.stderr.startswith("error: --url: 'ftp://ussd.rita.go.tz/ussd' is not an http(s) URL"), r.stderr
    assert "--callback-url" not in r.stderr and r.stdout == ""


def test_a_code_without_a_callback(cli):
    r = cli("ussd", "simulate", "33")
    assert r.exit_code == 2
    assert "has no callback URL (it is available)" in r.stderr and "--url" in r.stderr


def test_a_suspended_code_is_simulated_with_a_warning(cli, rita):
    assert cli("ussd", "suspend", "07", "--reason", "maintenance", "--yes").exit_code == 0
    r = cli("ussd", "simulate", "07", "--input", "1*1")
    assert r.exit_code == 0, r.stderr
    assert "is suspended: the gateway would not route it" in r.stderr


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def run_at_terminal(cli, tokens, args, typed: str):
    from typer.testing import CliRunner

    from egactl.cli import app
    from egactl.context import Context
    from egactl.output import IOStreams

    streams = IOStreams(out=Tty(), err=Tty(), inp=Tty(typed))
    ctx = Context(io=streams, transport=cli.transport, token=tokens["admin"], sleep=lambda s: None)
    result = CliRunner().invoke(app, args, obj=ctx)
    # the root's error handler writes to the process's stderr, not the context's stream
    return result.exit_code, streams.out.getvalue(), streams.err.getvalue() + result.stderr


def test_interactive_at_a_terminal(cli, tokens, rita):
    code, out, err = run_at_terminal(cli, tokens, ["ussd", "simulate", "07"], "\n1\n2\n")
    assert code == 0, err
    assert [f["text"] for f in SEEN] == ["", "1", "1*2"]  # the empty line was asked again, not sent
    assert "Gharama ni TSh 3,500" in out
    assert "> 1" not in out  # the person typed it; it is not echoed into the data
    assert err.count("> ") == 3


def test_interactive_session_abandoned(cli, tokens, rita):
    code, out, err = run_at_terminal(cli, tokens, ["ussd", "simulate", "07"], "1\n")
    assert code == 2
    assert "abandoned" in err
    assert [f["text"] for f in SEEN] == ["", "1"]


def test_the_help_desk_can_simulate(cli, rita):
    """simulate only reads the registry and talks to the application, as the gateway does."""
    r = cli("ussd", "simulate", "07", "--input", "1*2", "-o", "json", role="helpdesk")
    assert r.exit_code == 0, r.stderr
    assert r.json()["steps"][-1]["screen"] == "Gharama ni TSh 3,500"


def test_interactive_with_json_output_shows_screens_on_stderr(cli, tokens, rita):
    import json

    code, out, err = run_at_terminal(cli, tokens, ["ussd", "simulate", "07", "-o", "json"], "1\n1\n")
    assert code == 0, err
    assert "Karibu RITA" in err and "Karibu RITA" not in out.split("{", 1)[0]
    assert json.loads(out)["outcome"] == "ended"


# -- screens measured as the network measures them ---------------------------------------


@pytest.mark.parametrize("path,encoding,length,limit,forced", [
    ("/brackets-at-limit", "GSM-7", 182, 182, []),
    ("/ucs2-menu", "UCS-2", 22, 80, ["‘", "’"]),
    ("/ucs2-at-limit", "UCS-2", 80, 80, ["’"]),
    ("/emoji-at-limit", "UCS-2", 80, 80, ["\U0001F600"]),
], ids=lambda v: v if isinstance(v, str) and v.startswith("/") else "")
def test_screens_within_the_limit_of_their_encoding(cli, app_url, path, encoding, length, limit, forced):
    r = cli("ussd", "simulate", "07", "--url", app_url + path, "--input", "1", "-o", "json")
    step = r.json()["steps"][0]
    assert (step["encoding"], step["screen_length"], step["screen_limit"], step["forced_ucs2"]) == \
        (encoding, length, limit, forced)
    assert r.exit_code == (0 if path != "/ucs2-menu" else 2), r.stderr  # the menu waits for a second choice


@pytest.mark.parametrize("path,message", [
    ("/brackets-over", "is 184 GSM-7 septets ([ ] { } € ~ ^ | \\ count two); the gateway allows at most 182"),
    ("/euro-over", "is 184 GSM-7 septets"),
    ("/ucs2-over", "needs UCS-2 (because of ’ (U+2019)) and is 81 UTF-16 units; a UCS-2 screen holds at most 80"),
    ("/emoji-over", "needs UCS-2 (because of \U0001F600 (U+1F600)) and is 82 UTF-16 units"),
])
def test_screens_over_the_limit_of_their_encoding_are_refused(cli, app_url, path, message):
    r = cli("ussd", "simulate", "07", "--url", app_url + path)
    assert r.exit_code == 1
    assert message in r.stderr
    r = cli("ussd", "simulate", "07", "--url", app_url + path, "-o", "json")
    assert r.exit_code == 1 and r.json()["outcome"] == "rejected" and message in r.json()["error"]


def test_people_see_the_encoding_and_what_forced_it(cli, app_url):
    r = cli("ussd", "simulate", "07", "--url", app_url + "/ucs2-menu", "--input", "1")
    assert "── CON (22/80 UCS-2 units, forced by ‘ (U+2018), ’ (U+2019)," in r.stdout
    r = cli("ussd", "simulate", "07", "--url", app_url + "/brackets-at-limit")
    assert r.exit_code == 0 and "── END (182/182 GSM-7 septets," in r.stdout


def test_an_error_page_is_shown_cut_to_500_characters(cli, app_url):
    r = cli("ussd", "simulate", "07", "--url", app_url + "/error-page")
    assert r.exit_code == 1 and "HTTP 500" in r.stderr
    assert f"── refused (HTTP 500, {len(ERROR_PAGE)} chars," in r.stdout
    assert ERROR_PAGE[:500] in r.stdout and "END-OF-PAGE" not in r.stdout
    assert f"… ({len(ERROR_PAGE) - 500} more characters not shown)" in r.stdout
    assert len(r.stdout) < 800
    step = cli("ussd", "simulate", "07", "--url", app_url + "/error-page", "-o", "json").json()["steps"][0]
    assert step["reply"] == ERROR_PAGE[:500] and step["reply_length"] == len(ERROR_PAGE)
