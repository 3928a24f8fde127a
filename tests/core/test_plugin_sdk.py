"""The plugin SDK (egactl.plugin and its modules): its surface, its rules, and
the guarantees it gives every plugin alike."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from test_cli_lazy import HEAVY, imported

SDK = ("egactl.plugin", "egactl.plugin.cli", "egactl.plugin.server", "egactl.plugin.rules", "egactl.plugin.testing")


@pytest.mark.parametrize("name", SDK)
def test_every_module_declares_its_surface(name):
    module = importlib.import_module(name)
    assert module.__doc__ and module.__all__
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert missing == []


def test_plugins_use_only_what_the_sdk_namespaces_offer():
    """``bulk.X``, ``audit.X``, ``etag.X``... in a plugin must exist in the SDK's namespace, not only in
    the core module behind it (the import contract sees imports, not attributes)."""
    import ast
    from pathlib import Path

    from egactl.plugin import cli, server

    spaces = {"bulk": cli.bulk, "context": cli.context, "audit": server.audit, "etag": server.etag,
              "pagination": server.pagination}
    missing = []
    for path in sorted((Path(__file__).resolve().parents[2] / "plugins").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                    and (n.module or "").startswith("egactl.plugin") for a in n.names}
        for n in ast.walk(tree):
            if (isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id in spaces
                    and n.value.id in imported and not hasattr(spaces[n.value.id], n.attr)):
                missing.append(f"{path.name}:{n.lineno}: {n.value.id}.{n.attr}")
    assert missing == []


def test_the_sdk_has_a_version_of_its_own():
    import egactl
    import egactl.plugin

    import re
    from pathlib import Path

    changelog = (Path(__file__).parents[2] / "docs" / "plugins.md").read_text("utf-8")
    newest = re.search(r"^### SDK (\d+\.\d+)$", changelog, re.M).group(1)
    assert egactl.plugin.__version__ == newest  # the changelog's newest entry is the version
    assert egactl.plugin.__version__ != egactl.__version__


@pytest.mark.parametrize("name, forbidden", [
    # `egactl --help` reads plugins' declarations: the declaration module pulls in no backend and no CLI library.
    ("egactl.plugin", ("egactl.server", "typer", "httpx")),
    # Every plugin command imports the command side, `--help` included: no backend, no heavy library.
    ("egactl.plugin.cli", ("egactl.server", "httpx")),
])
def test_the_sdk_stays_import_light(name, forbidden):
    r = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {name}"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    loaded = imported(r.stderr)
    heavy = {m for m in loaded if m.split(".")[0] in HEAVY or m.startswith(forbidden)}
    assert heavy == set()


def test_a_broken_rule_is_one_usage_error_naming_the_flag():
    from egactl.plugin.cli import EXIT_USAGE, InvalidInput, enforce
    from egactl.plugin.rules import RuleError, check_email, split_reference

    assert enforce(check_email, "a@rita.go.tz") == "a@rita.go.tz"
    assert enforce(split_reference, "rita/crvs") == ("RITA", "crvs")
    with pytest.raises(InvalidInput) as exc:
        enforce(check_email, "nobody", flag="--contact-email")
    assert exc.value.exit_code == EXIT_USAGE == 2
    assert str(exc.value) == "--contact-email: 'nobody' is not an e-mail address"
    with pytest.raises(InvalidInput, match=r"^--system: 'crvs' must be INSTITUTION/NAME"):
        enforce(split_reference, "crvs", flag="--system")
    with pytest.raises(RuleError, match="institution code 'R' must be 2-32"):
        split_reference("r/crvs")
    with pytest.raises(RuleError, match="must not begin with '='"):
        split_reference("RITA/=cmd")


# Every plugin gives an operator the same answer for another institution's data (it used
# to be an empty list in dr and govnet, and a refusal in mail).
@pytest.mark.parametrize("args", [
    ("dr", "systems", "list"), ("dr", "drills", "list"), ("dr", "report"),
    ("govnet", "sites", "list"),
    ("mail", "list"), ("mail", "domains", "list"), ("mail", "list-group", "list"),
])
def test_another_institutions_data_is_refused_alike_in_every_plugin(cli, args):
    mine = cli(*args, "-i", "RITA", "-o", "json", role="operator")
    assert mine.exit_code == 0, mine.stderr
    theirs = cli(*args, "-i", "TRA", "-o", "json", role="operator")
    assert theirs.exit_code == 4, theirs.stdout
    assert "this token may not read resources of institution TRA" in theirs.stderr
    assert theirs.stdout == ""
    # The admin and the help desk read every institution.
    assert cli(*args, "-i", "TRA", "-o", "json", role="helpdesk").exit_code == 0


def test_one_rule_for_tanzanian_mobile_numbers():
    from egactl.plugin.rules import RuleError, check_msisdn, normalise_msisdn

    for given in ("0754 123 456", "+255 754 123 456", "255754123456", "00255754123456", "754123456"):
        assert normalise_msisdn(given) == "+255754123456"
    assert check_msisdn("0754123456") is None
    assert check_msisdn("0222123456") == "0222123456: a landline (fixed-line) number, not a mobile number"
    with pytest.raises(RuleError, match=r"^\+254712345678: not a Tanzanian number"):
        normalise_msisdn("+254712345678")


@given(st.integers(1, 9), st.integers(0, 99_999_999), st.integers(7, 10))
def test_compiled_classifier_agrees_with_phonenumbers(first, rest, length):
    """The compiled TZ classifier behind normalise_msisdn makes phonenumbers' own decision, number for number."""
    import phonenumbers

    from egactl.plugin.rules import _tz_number_type

    nsn = (str(first) + f"{rest:08d}")[:length].ljust(length, "0")
    expected = phonenumbers.number_type(phonenumbers.PhoneNumber(country_code=255, national_number=int(nsn)))
    assert _tz_number_type()(nsn) == expected


# 064 is not allocated to any network: every plugin refuses it alike (the USSD simulator
# used to dial it, its own pattern taking any 06/07 number).
@pytest.mark.parametrize("args", [
    ("ussd", "simulate", "07", "--phone", "0640123456"),
    ("sms", "optout", "create", "0640123456", "-i", "RITA"),
    ("sms", "send", "--to", "0640123456", "Hello", "-i", "RITA"),
])
def test_every_plugin_refuses_an_unallocated_mobile_number_alike(cli, args):
    r = cli(*args)
    assert r.exit_code == 2, r.stdout
    assert "0640123456: not a valid Tanzanian mobile number" in r.stderr


def test_durations_and_rates_are_one_rule_each():
    from egactl.plugin.rules import RuleError, format_duration, format_rate, parse_duration, parse_rate

    assert [parse_duration(v) for v in ("15m", "4h", "1h30m", "2d", "1w", "90s", "45", 30)] == [
        15, 240, 90, 2880, 10080, 1.5, 45, 30]
    assert [format_duration(m) for m in (15, 90, 2880, 0.5, None)] == ["15 min", "1 h 30 min", "2 d", "30 s", ""]
    with pytest.raises(RuleError, match=r"^RPO '4 hours' must look like 15m, 4h, 1h30m or 2d$"):
        parse_duration("4 hours", "RPO")
    with pytest.raises(RuleError, match="must not be negative"):
        parse_duration(-1)
    assert [parse_rate(v) for v in ("20M", "1G", "512k", "1.5G", "20Mbps", "64000")] == [
        20_000_000, 1_000_000_000, 512_000, 1_500_000_000, 20_000_000, 64_000]
    assert [format_rate(r) for r in (20_000_000, 19_500_000, 512_000, 999)] == ["20M", "19.5M", "512k", "999"]
    with pytest.raises(RuleError, match=r"^bandwidth '20MB/s' is not a rate in bits per second"):
        parse_rate("20MB/s", "bandwidth")
    with pytest.raises(RuleError, match=r"^bandwidth '1k' is outside 64k–100G$"):
        parse_rate("1k", "bandwidth", minimum=64_000, maximum=100_000_000_000)


def test_plugins_share_the_sdk_rules_and_its_one_exception():
    import egactl_dr.rules as dr
    import egactl_govnet.rules as govnet
    import egactl_sms.rules as sms
    import egactl_ussd.rules as ussd

    from egactl.plugin import rules

    assert dr.RuleError is rules.RuleError
    with pytest.raises(rules.RuleError):
        dr.parse_minutes("soon", "RTO")
    with pytest.raises(rules.RuleError):
        govnet.parse_bandwidth("fast")
    with pytest.raises(rules.RuleError):
        ussd.parse_phone("0640123456")
    with pytest.raises(rules.RuleError):
        sms.compile_template("Habari {name")
    assert sms.recipient("0754 123 456") == ussd.parse_phone("0754 123 456") == "+255754123456"


def test_a_plugin_route_outside_the_frame_keeps_the_plugin_unmounted(tmp_path, monkeypatch, caplog):
    """A route that would skip authentication (a plain APIRouter), even nested in an
    included router, cannot be served; plugins whose routes all run in the frame are."""
    import httpx
    from fastapi import APIRouter

    import egactl.server.app as app_module
    from egactl.plugin import BackendPart
    from egactl.plugin.server import ApiRoute
    from egactl.sandbox import SyncASGITransport

    outer = APIRouter(route_class=ApiRoute)

    @outer.get("/fine")
    def fine():
        return {}

    open_router = APIRouter()  # forgot route_class=ApiRoute

    @open_router.get("/secrets")
    def secrets():
        return {"everyone": "can read this"}

    outer.include_router(open_router, prefix="/inner")
    real = app_module.load_parts

    def parts(only=None):
        found = real(only)
        found["leaky"] = BackendPart(router=outer)
        return found

    monkeypatch.setattr(app_module, "load_parts", parts)
    application = app_module.create_app(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        assert set(application.state.backend.parts) == {"ussd", "sms", "mail", "govnet", "dr", "esb"}
        assert any("leaky" in r.getMessage() and "/inner/secrets" in r.getMessage() and "ApiRoute" in r.getMessage()
                   for r in caplog.records)
        with httpx.Client(transport=SyncASGITransport(application), base_url="http://egactl") as http:
            assert http.get("/api/v1/leaky/inner/secrets").status_code == 404
            assert http.get("/api/v1/leaky/fine").status_code == 404
            assert http.get("/api/v1/ussd/codes").status_code == 401  # the others still served, with the frame
    finally:
        application.state.backend.engine.dispose()


def test_a_lifecycle_is_one_table_and_refuses_what_it_does_not_list():
    from egactl.plugin.rules import PREVIOUS, IllegalTransition, Lifecycle, RuleError, Transition

    life = Lifecycle("code", ("available", "reserved", "released"), [
        Transition("reserve", ("available",), "reserved"),
        Transition("release", ("reserved",), "available"),
        Transition("undo", ("released",), PREVIOUS),
    ])
    assert life.next_state("reserve", "available") == "reserved"
    assert life.next_state("undo", "released") == PREVIOUS
    assert life.actions_from("reserved") == ("release",)
    with pytest.raises(IllegalTransition, match="cannot reserve a code that is released \\(reserve needs available\\)"):
        life.next_state("reserve", "released")
    assert issubclass(IllegalTransition, RuleError)
    with pytest.raises(IllegalTransition, match="cannot reserve an endpoint that is gone"):
        Lifecycle("endpoint", ("ready", "gone"), [Transition("reserve", ("ready",), "gone")]).next_state("reserve", "gone")
    with pytest.raises(ValueError, match="unknown code action 'fly'"):
        life.next_state("fly", "available")
    with pytest.raises(ValueError, match="unknown state 'gone'"):
        Lifecycle("code", ("available",), [Transition("drop", ("available",), "gone")])
    with pytest.raises(ValueError, match="listed twice"):
        Lifecycle("code", ("a", "b"), [Transition("go", ("a",), "b"), Transition("go", ("a",), "a")])


def test_rule_validator_turns_either_rule_convention_into_the_fields_422():
    from pydantic import BaseModel, ValidationError

    from egactl.plugin.rules import check_name, normalise_msisdn
    from egactl.plugin.server import rule_validator

    class Body(BaseModel):
        name: str
        phone: str | None = None
        _name = rule_validator(check_name, "name")
        _phone = rule_validator(normalise_msisdn, "phone")

    assert Body(name="payments", phone="0754 123 456").phone == "+255754123456"
    assert Body(name="payments").phone is None
    with pytest.raises(ValidationError) as bad:
        Body(name="pay\x00ments", phone="12")
    messages = [e["msg"] for e in bad.value.errors()]
    assert len(messages) == 2 and all(m and "Value error" not in m for m in messages)


@pytest.mark.parametrize("name", ["ussd", "sms", "mail", "govnet", "dr", "esb"])
def test_a_plugins_help_is_written_once_as_its_package_docstring(name, cli):
    import inspect

    doc = inspect.getdoc(importlib.import_module(f"egactl_{name}"))
    listed = cli("--help")
    assert " ".join(doc.splitlines()[0].split()) in " ".join(listed.stdout.split())
    own = cli(name, "--help")
    assert own.exit_code == 0
    assert " ".join(doc.split()) in " ".join(own.stdout.replace("│", " ").split())


def test_every_bulk_route_speaks_the_one_wire_contract(tmp_path):
    """Items in (each with its CSV line), one result per line out: declared once, by the SDK."""
    from egactl.server.app import create_app

    app = create_app(f"sqlite:///{tmp_path / 'contract.db'}")
    spec = app.openapi()
    app.state.backend.engine.dispose()
    schemas = spec["components"]["schemas"]

    def resolve(ref_or_schema):
        ref = ref_or_schema.get("$ref")
        return schemas[ref.rsplit("/", 1)[1]] if ref else ref_or_schema

    bulk_routes = []
    for path, methods in spec["paths"].items():
        body = methods.get("post", {}).get("requestBody", {}).get("content", {}).get("application/json")
        if not body:
            continue
        request = resolve(body["schema"])
        items = request.get("properties", {}).get("items")
        if not items or "line" not in resolve(items.get("items", {})).get("properties", {}):
            continue
        bulk_routes.append(path)
        response = resolve(methods["post"]["responses"]["200"]["content"]["application/json"]["schema"])
        result = resolve(response["properties"]["results"]["items"])
        assert set(result["properties"]) == {"line", "status", "id", "error"}, path
        assert "failed" in result["properties"]["status"]["enum"], path
        assert "maxItems" in items, path
    assert len(bulk_routes) >= 5, bulk_routes  # institutions, mail, govnet, sms members and recipients


def test_every_json_error_value_is_one_the_docs_list():
    """A plugin's own error classes say more in their message, never a new `error` value."""
    import pkgutil
    import re
    from pathlib import Path

    from egactl.errors import EgactlError

    docs = (Path(__file__).resolve().parents[2] / "docs" / "exit-codes.md").read_text(encoding="utf-8")
    row = next(line for line in docs.splitlines() if line.startswith("| `error` |"))
    listed = set(re.findall(r"`([a-z_]+)`", row.split("|")[2]))
    for name in ("egactl_ussd", "egactl_sms", "egactl_mail", "egactl_govnet", "egactl_dr", "egactl_esb"):
        package = importlib.import_module(name)
        for info in pkgutil.walk_packages(package.__path__, f"{name}."):
            if ".server" not in info.name and ".migrations" not in info.name:
                importlib.import_module(info.name)

    def every(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from every(sub)

    found = {f"{c.__module__}.{c.__qualname__}": c("x").as_json()["error"] for c in every(EgactlError)}
    assert found and all(kind in listed for kind in found.values()), {k: v for k, v in found.items() if v not in listed}
    assert found["egactl_ussd.commands.gateway.NoAnswer"] == "unreachable"


def test_nothing_reads_the_machines_clock_but_the_two_clocks():
    """Seeds and routes read the backend's clock, commands ctx.now(): tests can set both."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    allowed = {"egactl/server/clock.py", "egactl/context.py"}
    offenders = []
    for path in [*root.joinpath("egactl").rglob("*.py"), *root.joinpath("plugins").rglob("*.py")]:
        rel = path.relative_to(root).as_posix()
        if rel in allowed:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if re.search(r"datetime\.(now|utcnow|today)\(|\bdate\.today\(", code) and "``" not in code:
                offenders.append(f"{rel}:{number}: {line.strip()}")
    assert offenders == []
