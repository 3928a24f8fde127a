"""No lost updates: every route that changes a resource, raced, on SQLite and PostgreSQL.

The routes come from the app's own route table. Each mutating route has either
a RECIPE (how to make a resource for it, the request, the audit entry it writes)
or an EXEMPTION saying why it changes no existing versioned resource (it creates
one, records a bulk job...). A new route with neither fails
``test_every_mutating_route_is_classified``; a new table that is neither
``Versioned`` nor declared ``@unversioned(reason)`` stops the backend starting.

For every recipe, against a real ``egactl serve`` (SQLite; then two ``serve``
processes sharing one PostgreSQL database, as a shared deployment runs):
20 requests carrying the same If-Match arrive together; exactly one may succeed,
the others get 412 (stale), 404 (gone) or 409 (no longer in a state that allows
it), and exactly one audit entry is written for the action.
"""

from __future__ import annotations

import itertools
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

import httpx
import pytest
from sqlalchemy import Column, Integer, String, create_engine, text

from conftest import start_server
from egactl.server.db import normalise_url

N = 20
LOSERS = {404, 409, 412}
_seq = itertools.count(1)


def n() -> int:
    return next(_seq)


class Api:
    """An admin's HTTP session with the backend (in-process or a served one)."""

    def __init__(self, client: httpx.Client, token: str):
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, body: Any = None, *, expect: int | tuple = (200, 201), **kw) -> httpx.Response:
        r = self.client.request(method, path, json=body, headers=self.headers, **kw)
        expected = expect if isinstance(expect, tuple) else (expect,)
        assert r.status_code in expected, f"{method} {path}: {r.status_code} {r.text}"
        return r

    def get(self, path: str) -> tuple[dict, str]:
        """The resource and its ETag (every versioned resource must send one)."""
        r = self.call("GET", path)
        assert r.headers.get("ETag"), f"GET {path} sent no ETag"
        return r.json(), r.headers["ETag"]

    def post(self, path: str, body: Any = None) -> dict:
        return self.call("POST", path, body).json()


@dataclass
class Target:
    method: str
    path: str
    body: Any
    etag: str | None
    """The If-Match every racer sends (None: the resource has no ETag; racers send none)."""
    action: str
    resource_id: str
    params: dict | None = None


@dataclass
class World:
    api: Api
    ready: set

    def once(self, key: str, setup: Callable[[Api], None]) -> None:
        if key not in self.ready:
            setup(self.api)
            self.ready.add(key)


# -- shared set-up -------------------------------------------------------------------


def _rita(api: Api) -> None:
    r = api.call("GET", "/api/v1/institutions/RITA", expect=(200, 404))
    if r.status_code == 404:
        api.post("/api/v1/institutions", {"code": "RITA", "name": "Registration Insolvency and Trusteeship Agency",
                                          "kind": "agency"})


def _mail(api: Api) -> None:
    _rita(api)
    r = api.call("GET", "/api/v1/mail/domains", expect=200)
    if not any(d["domain"] == "rita.go.tz" for d in r.json().get("items", r.json() if isinstance(r.json(), list) else [])):
        api.call("POST", "/api/v1/mail/domains", {"domain": "rita.go.tz", "institution": "RITA"}, expect=(200, 201, 409))


def _govnet(api: Api) -> None:
    _rita(api)
    api.call("POST", "/api/v1/govnet/pools", {"name": "locking", "cidr": "10.60.0.0/22", "region": "Dodoma",
                                              "default_prefix_length": 30,
                                              "vlans": [{"pop": "DODOMA", "first": 200, "last": 999}]},
             expect=(200, 201, 409))


def mailbox(w: World, *then: str) -> tuple[str, str]:
    """A new mailbox at RITA, taken through the actions ``then``; (address, ETag)."""
    w.once("mail", _mail)
    i = n()
    m = w.api.post("/api/v1/mail/mailboxes", {"institution": "RITA", "employee_number": f"{700000000 + i}",
                                              "given_name": "Juma", "family_name": f"Locking{chr(97 + i % 26)}{i}"})
    for action in then:
        w.api.post(f"/api/v1/mail/mailboxes/{m['address']}/{action}")
    _, tag = w.api.get(f"/api/v1/mail/mailboxes/{m['address']}")
    return m["address"], tag


def mail_list(w: World, members: list[str]) -> tuple[str, str]:
    w.once("mail", _mail)
    address = f"list{n()}@rita.go.tz"
    w.api.post("/api/v1/mail/lists", {"address": address, "institution": "RITA", "name": "Locking", "members": members})
    return address, _etag_of(w.api, f"/api/v1/mail/lists/{address}")


def _etag_of(api: Api, path: str) -> str:
    """The ETag, or (a resource the backend sends none for yet) the tag of its version."""
    r = api.call("GET", path)
    return r.headers.get("ETag") or f'"v{r.json()["version"]}"'


def dr_system(w: World) -> tuple[str, str]:
    w.once("rita", _rita)
    name = f"sys{n()}"
    w.api.post("/api/v1/dr/systems", {"institution": "RITA", "name": name, "hosting": "gdc-dodoma",
                                      "primary_endpoint": "https://crvs.rita.go.tz/health",
                                      "rpo_minutes": 15, "rto_minutes": 60})
    ref = f"RITA/{name}"
    return ref, _etag_of(w.api, f"/api/v1/dr/systems/{ref}")


def sender(w: World) -> tuple[str, str]:
    w.once("rita", _rita)
    name = f"RITA{n()}"
    w.api.post("/api/v1/sms/senders", {"institution": "RITA", "name": name})
    return name, _etag_of(w.api, f"/api/v1/sms/senders/{name}")


PHONE = "+255712345678"


def sms_group(w: World, members: list[str] = ()) -> tuple[str, str]:
    w.once("rita", _rita)
    name = f"group{n()}"
    w.api.post("/api/v1/sms/groups", {"institution": "RITA", "name": name})
    if members:
        w.api.post(f"/api/v1/sms/groups/RITA/{name}/members", {"members": [{"phone": p} for p in members]})
    return name, _etag_of(w.api, f"/api/v1/sms/groups/RITA/{name}")


def ussd_code(w: World, *then: tuple[str, dict]) -> tuple[str, str, str]:
    """A code assigned to RITA; (two digits for the URL, the code as audited, ETag)."""
    w.once("rita", _rita)
    code = w.api.post("/api/v1/ussd/assignments", {"institution": "RITA", "service_name": f"Locking {n()}",
                                                   "purpose": "Concurrency test",
                                                   "callback_url": "https://ussd.rita.go.tz/callback"})["code"]
    digits = re.fullmatch(r"\*152\*(\d\d)#", code).group(1)
    for action, body in then:
        w.api.post(f"/api/v1/ussd/codes/{digits}/{action}", body)
    return digits, code, _etag_of(w.api, f"/api/v1/ussd/codes/{digits}")


ONBOARDING_STEPS = {
    "approve": {},
    "provision": {"provider": "TTCL", "circuit_id": "CIRCUIT"},
    "activate": {"latency_ms": 12, "loss_pct": 0, "throughput": "10M"},
    "suspend": {"reason": "unpaid invoice"},
    "resume": {},
    "offboard": {},
}


def onboarding(w: World, *then: str) -> tuple[int, str, str]:
    """A GovNet onboarding request taken through the steps ``then``; (id, site key, ETag)."""
    w.once("govnet", _govnet)
    site = f"site-{n()}"
    w.api.post("/api/v1/govnet/sites", {"institution": "RITA", "name": site, "region": "Dodoma"})
    ob = w.api.post("/api/v1/govnet/onboardings", {"institution": "RITA", "site": site, "bandwidth": "10M"})
    for step in then:
        body = dict(ONBOARDING_STEPS[step])
        if step == "provision":
            body["circuit_id"] = f"C-{site}"
        w.api.post(f"/api/v1/govnet/onboardings/{ob['id']}/{step}", body)
    return ob["id"], f"RITA/{site}", _etag_of(w.api, f"/api/v1/govnet/onboardings/{ob['id']}")


def govnet_site(w: World) -> tuple[str, str]:
    """A new GovNet site of RITA, with no request; (INSTITUTION/NAME, ETag)."""
    w.once("govnet", _govnet)
    name = f"site-{n()}"
    w.api.post("/api/v1/govnet/sites", {"institution": "RITA", "name": name, "region": "Dodoma"})
    return f"RITA/{name}", _etag_of(w.api, f"/api/v1/govnet/sites/RITA/{name}")


def govnet_pool(w: World) -> tuple[str, str]:
    """A new GovNet pool that nothing draws from; (name, ETag)."""
    i = n()
    name = f"race-{i}"
    w.api.post("/api/v1/govnet/pools", {"name": name, "cidr": f"10.{100 + i % 150}.{i // 150 % 256}.0/24",
                                        "vlans": [{"pop": "MTWARA", "first": 10 * i, "last": 10 * i + 9}]})
    return name, _etag_of(w.api, f"/api/v1/govnet/pools/{name}")


def _r_govnet_site(method: str, action: str, body: Any = None) -> Callable[[World], Target]:
    def recipe(w: World) -> Target:
        ref, tag = govnet_site(w)
        return Target(method, f"/api/v1/govnet/sites/{ref}", body, tag, action, ref)

    return recipe


def _r_govnet_pool(method: str, action: str, body: Any = None) -> Callable[[World], Target]:
    def recipe(w: World) -> Target:
        name, tag = govnet_pool(w)
        return Target(method, f"/api/v1/govnet/pools/{name}", body, tag, action, name)

    return recipe


def _step(step: str, before: tuple[str, ...]) -> Callable[[World], Target]:
    def recipe(w: World) -> Target:
        oid, key, tag = onboarding(w, *before)
        body = dict(ONBOARDING_STEPS[step])
        if step == "provision":
            body["circuit_id"] = f"RACE-{oid}"
        return Target("POST", f"/api/v1/govnet/onboardings/{oid}/{step}", body, tag, step, key)

    return recipe


def _mailbox_action(action: str, before: tuple[str, ...] = (), body: Any = None) -> Callable[[World], Target]:
    def recipe(w: World) -> Target:
        address, tag = mailbox(w, *before)
        return Target("POST", f"/api/v1/mail/mailboxes/{address}/{action}", body, tag, action, address)

    return recipe


def _institution(w: World) -> tuple[str, str]:
    code = f"LCK{n()}"
    w.api.post("/api/v1/institutions", {"code": code, "name": f"Locking {code}", "kind": "agency"})
    return code, _etag_of(w.api, f"/api/v1/institutions/{code}")


def _r_inst_patch(w):
    code, tag = _institution(w)
    return Target("PATCH", f"/api/v1/institutions/{code}", {"region": "Dodoma"}, tag, "update", code)


def _r_inst_delete(w):
    code, tag = _institution(w)
    return Target("DELETE", f"/api/v1/institutions/{code}", None, tag, "delete", code)


def _r_token_revoke(w):
    t = w.api.post("/api/v1/tokens", {"subject": f"victim{n()}", "role": "helpdesk"})
    return Target("DELETE", f"/api/v1/tokens/{t['id']}", None, None, "revoke", str(t["id"]))


def _r_mailbox_patch(w):
    address, tag = mailbox(w)
    return Target("PATCH", f"/api/v1/mail/mailboxes/{address}", {"title": "Director"}, tag, "update", address)


def _r_alias_add(w):
    address, tag = mailbox(w)
    return Target("POST", f"/api/v1/mail/mailboxes/{address}/aliases", {"address": f"alias{n()}@rita.go.tz"}, tag,
                  "add-alias", address)


def _r_alias_remove(w):
    address, _ = mailbox(w)
    alias = f"alias{n()}@rita.go.tz"
    w.api.post(f"/api/v1/mail/mailboxes/{address}/aliases", {"address": alias})
    tag = _etag_of(w.api, f"/api/v1/mail/mailboxes/{address}")
    return Target("DELETE", f"/api/v1/mail/aliases/{alias}", None, tag, "remove-alias", address)


def _r_list_add(w):
    address, tag = mail_list(w, [])
    return Target("POST", f"/api/v1/mail/lists/{address}/members", {"members": ["someone@example.org"]}, tag,
                  "add-members", address)


def _r_list_remove(w):
    address, tag = mail_list(w, ["someone@example.org"])
    return Target("DELETE", f"/api/v1/mail/lists/{address}/members", None, tag, "remove-members", address,
                  params={"member": "someone@example.org"})


def _r_list_delete(w):
    address, tag = mail_list(w, ["someone@example.org"])
    return Target("DELETE", f"/api/v1/mail/lists/{address}", None, tag, "delete", address)


def mail_domain(w: World) -> tuple[str, str]:
    """A new, unused, non-primary domain of RITA (rita.go.tz is its primary); (domain, ETag)."""
    w.once("mail", _mail)
    domain = f"locking{n()}.go.tz"
    w.api.post("/api/v1/mail/domains", {"domain": domain, "institution": "RITA"})
    return domain, _etag_of(w.api, f"/api/v1/mail/domains/{domain}")


def _r_domain_patch(w):
    domain, tag = mail_domain(w)
    return Target("PATCH", f"/api/v1/mail/domains/{domain}", {"naming_rule": "g.family"}, tag, "update", domain)


def _r_domain_delete(w):
    domain, tag = mail_domain(w)
    return Target("DELETE", f"/api/v1/mail/domains/{domain}", None, tag, "delete", domain)


def _r_mailbox_restore(w):
    """The old path of resume (deprecated): the same move, audited as resume."""
    address, tag = mailbox(w, "suspend")
    return Target("POST", f"/api/v1/mail/mailboxes/{address}/restore", None, tag, "resume", address)


def _r_dr_patch(w):
    ref, tag = dr_system(w)
    return Target("PATCH", f"/api/v1/dr/systems/{ref}", {"notes": "changed"}, tag, "update", ref)


def _r_dr_delete(w):
    ref, tag = dr_system(w)
    return Target("DELETE", f"/api/v1/dr/systems/{ref}", None, tag, "delete", ref)


def _r_drill_start(w):
    ref, tag = dr_system(w)
    return Target("POST", f"/api/v1/dr/systems/{ref}/drills", {}, tag, "drill-start", ref)


def _r_drill_finish(w):
    ref, _ = dr_system(w)
    w.api.post(f"/api/v1/dr/systems/{ref}/drills", {})
    tag = _etag_of(w.api, f"/api/v1/dr/systems/{ref}")
    return Target("POST", f"/api/v1/dr/systems/{ref}/drills/finish", {"data_loss_minutes": 0}, tag, "drill-finish", ref)


def _r_sender(decision: str):
    def recipe(w):
        name, tag = sender(w)
        return Target("POST", f"/api/v1/sms/senders/{name}/{decision}", {}, tag, decision, name)

    return recipe


def _r_group_delete(w):
    name, tag = sms_group(w, [PHONE])
    return Target("DELETE", f"/api/v1/sms/groups/RITA/{name}", None, tag, "delete", f"RITA/{name}")


def _r_group_add(w):
    name, tag = sms_group(w)
    return Target("POST", f"/api/v1/sms/groups/RITA/{name}/members", {"members": [{"phone": PHONE}]}, tag,
                  "add-members", f"RITA/{name}")


def _r_group_remove(w):
    name, tag = sms_group(w, [PHONE])
    return Target("POST", f"/api/v1/sms/groups/RITA/{name}/members/remove", {"phones": [PHONE]}, tag,
                  "remove-members", f"RITA/{name}")


def _r_group_import(w):
    name, tag = sms_group(w)
    return Target("POST", f"/api/v1/sms/groups/RITA/{name}/members/bulk", {"items": [{"line": 2, "phone": PHONE}]},
                  tag, "import-members", f"RITA/{name}")


def _r_optout_remove(w):
    w.once("rita", _rita)
    phone = f"+2557130{n():05d}"
    w.api.post("/api/v1/sms/optouts", {"institution": "RITA", "phone": phone})
    return Target("DELETE", f"/api/v1/sms/optouts/RITA/{phone.lstrip('+')}", None, None, "opt-in", f"RITA/{phone}")


def _r_ussd(action: str, before: tuple = (), body: dict | None = None, method: str = "POST", suffix: str | None = None):
    def recipe(w):
        digits, code, tag = ussd_code(w, *before)
        path = f"/api/v1/ussd/codes/{digits}" + (f"/{suffix if suffix is not None else action}" if suffix != "" else "")
        return Target(method, path, body, tag, action, code)

    return recipe


RECIPES: dict[tuple[str, str], Callable[[World], Target]] = {
    ("PATCH", "/api/v1/institutions/{code}"): _r_inst_patch,
    ("DELETE", "/api/v1/institutions/{code}"): _r_inst_delete,
    ("DELETE", "/api/v1/tokens/{token_id}"): _r_token_revoke,
    ("PATCH", "/api/v1/mail/mailboxes/{ref}"): _r_mailbox_patch,
    ("POST", "/api/v1/mail/mailboxes/{ref}/suspend"): _mailbox_action("suspend"),
    ("POST", "/api/v1/mail/mailboxes/{ref}/resume"): _mailbox_action("resume", ("suspend",)),
    ("POST", "/api/v1/mail/mailboxes/{ref}/restore"): _r_mailbox_restore,
    ("POST", "/api/v1/mail/mailboxes/{ref}/delete"): _mailbox_action("delete"),
    ("POST", "/api/v1/mail/mailboxes/{ref}/undelete"): _mailbox_action("undelete", ("delete",)),
    ("POST", "/api/v1/mail/mailboxes/{ref}/reset-password"): _mailbox_action("reset-password"),
    ("POST", "/api/v1/mail/mailboxes/{ref}/aliases"): _r_alias_add,
    ("DELETE", "/api/v1/mail/aliases/{address}"): _r_alias_remove,
    ("POST", "/api/v1/mail/lists/{address}/members"): _r_list_add,
    ("DELETE", "/api/v1/mail/lists/{address}/members"): _r_list_remove,
    ("DELETE", "/api/v1/mail/lists/{address}"): _r_list_delete,
    ("PATCH", "/api/v1/mail/domains/{domain}"): _r_domain_patch,
    ("DELETE", "/api/v1/mail/domains/{domain}"): _r_domain_delete,
    ("PATCH", "/api/v1/dr/systems/{institution}/{name}"): _r_dr_patch,
    ("DELETE", "/api/v1/dr/systems/{institution}/{name}"): _r_dr_delete,
    ("POST", "/api/v1/dr/systems/{institution}/{name}/drills"): _r_drill_start,
    ("POST", "/api/v1/dr/systems/{institution}/{name}/drills/finish"): _r_drill_finish,
    ("POST", "/api/v1/sms/senders/{name}/approve"): _r_sender("approve"),
    ("POST", "/api/v1/sms/senders/{name}/reject"): _r_sender("reject"),
    ("POST", "/api/v1/sms/senders/{name}/withdraw"): _r_sender("withdraw"),
    ("DELETE", "/api/v1/sms/groups/{institution}/{name}"): _r_group_delete,
    ("POST", "/api/v1/sms/groups/{institution}/{name}/members"): _r_group_add,
    ("POST", "/api/v1/sms/groups/{institution}/{name}/members/remove"): _r_group_remove,
    ("POST", "/api/v1/sms/groups/{institution}/{name}/members/bulk"): _r_group_import,
    ("DELETE", "/api/v1/sms/optouts/{institution}/{phone}"): _r_optout_remove,
    ("POST", "/api/v1/ussd/codes/{code}/suspend"): _r_ussd("suspend", body={"reason": "abuse reported"}),
    ("POST", "/api/v1/ussd/codes/{code}/resume"): _r_ussd("resume", (("suspend", {"reason": "abuse reported"}),),
                                                           {"reason": "cleared"}),
    ("POST", "/api/v1/ussd/codes/{code}/release"): _r_ussd("release", body={"reason": "service retired"}),
    ("PATCH", "/api/v1/ussd/codes/{code}"): _r_ussd("update", body={"purpose": "Changed purpose"}, method="PATCH",
                                                    suffix=""),
    ("PUT", "/api/v1/ussd/codes/{code}/networks/{network}"): _r_ussd("network-status", body={"state": "live"}, method="PUT",
                                                                     suffix="networks/vodacom"),
    **{("POST", f"/api/v1/govnet/onboardings/{{onboarding_id}}/{step}"): _step(step, before) for step, before in (
        ("approve", ()), ("provision", ("approve",)), ("activate", ("approve", "provision")),
        ("suspend", ("approve", "provision", "activate")),
        ("resume", ("approve", "provision", "activate", "suspend")), ("offboard", ()))},
    ("PATCH", "/api/v1/govnet/sites/{institution}/{name}"): _r_govnet_site("PATCH", "update", {"district": "Mjini"}),
    ("DELETE", "/api/v1/govnet/sites/{institution}/{name}"): _r_govnet_site("DELETE", "delete"),
    ("PATCH", "/api/v1/govnet/pools/{name}"): _r_govnet_pool("PATCH", "update", {"description": "changed"}),
    ("DELETE", "/api/v1/govnet/pools/{name}"): _r_govnet_pool("DELETE", "delete"),
}
"""Routes that change an existing resource: how to race each one."""

# Needs the retention period to have passed: raced in-process with the fake clock only.
IN_PROCESS_ONLY = {("POST", "/api/v1/mail/mailboxes/{ref}/purge")}

EXEMPT: dict[tuple[str, str], str] = {
    ("POST", "/api/v1/institutions"): "creates (unique code)",
    ("POST", "/api/v1/institutions/bulk"): "creates",
    ("POST", "/api/v1/tokens"): "creates",
    ("POST", "/api/v1/dr/systems"): "creates (unique name)",
    ("POST", "/api/v1/dr/checks"): "records a check run; observations do not version a system",
    ("POST", "/api/v1/govnet/pools"): "creates",
    ("POST", "/api/v1/govnet/sites"): "creates",
    ("POST", "/api/v1/govnet/onboardings"): "creates (one open request per site, by constraint)",
    ("POST", "/api/v1/govnet/import"): "creates",
    ("POST", "/api/v1/mail/domains"): "creates",
    ("POST", "/api/v1/mail/mailboxes"): "creates",
    ("POST", "/api/v1/mail/mailboxes/bulk"): "creates",
    ("POST", "/api/v1/mail/lists"): "creates",
    ("POST", "/api/v1/mail/reconcile"): "a bulk job over many mailboxes (each change is version-checked)",
    ("POST", "/api/v1/sms/senders"): "creates",
    ("POST", "/api/v1/sms/groups"): "creates",
    ("POST", "/api/v1/sms/optouts"): "creates",
    ("POST", "/api/v1/sms/messages"): "creates",
    ("POST", "/api/v1/sms/batches"): "creates",
    ("POST", "/api/v1/sms/batches/{batch_id}/recipients"): "adds messages to a batch; chunks of one send run "
                                                          "concurrently by design, each recipient once by constraint",
    ("POST", "/api/v1/sms/batches/{batch_id}/cancel"): "a conditional UPDATE … WHERE state = 'queued', raced "
                                                      "against the delivery worker in test_sms_cancel; idempotent",
    ("POST", "/api/v1/sms/messages/{message_id}/cancel"): "a conditional UPDATE … WHERE state = 'queued'; idempotent",
    ("POST", "/api/v1/ussd/demo"): "the sandbox's demo USSD application: answers a menu, stores nothing",
    ("POST", "/api/v1/ussd/reservations"): "allocates (one holder per code, by version)",
    ("POST", "/api/v1/ussd/assignments"): "allocates (one holder per code, by version)",
    ("PUT", "/api/v1/ussd/quotas/{institution}"): "replaces a grant whole (no read-modify-write), "
                                                  "under the allocation lock",
    ("POST", "/api/v1/privacy/reports"): "reads; writes only its own audit entry",
    ("POST", "/api/v1/privacy/erasures"): "conditional updates to fixed values (a pseudonym, blanks) and deletes: "
                                          "two erasures of one person end the same; idempotent",
    ("POST", "/api/v1/esb/apis"): "creates (unique code)",
    ("POST", "/api/v1/esb/clients"): "creates (unique client id)",
    ("POST", "/api/v1/esb/oauth/token"): "issues a token (a new row; older tokens of the client superseded by time)",
    ("POST", "/api/v1/esb/request"): "an exchange through the bus: changes no versioned resource, audits it",
    ("POST", "/api/v1/esb/push-request"): "an exchange through the bus: changes no versioned resource, audits it",
    ("POST", "/api/v1/esb/nida-request"): "an exchange through the bus: changes no versioned resource, audits it",
    ("POST", "/api/v1/esb/sandbox/provider"): "the sandbox's demo provider: answers, stores nothing",
}

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


def mutating_routes(app) -> set[tuple[str, str]]:
    from test_backend_roles import mounted_routes

    return {(m, r.path) for r in mounted_routes(app) if r.path.startswith("/api/") for m in r.methods & MUTATING}


def test_every_mutating_route_is_classified(app):
    routes = mutating_routes(app)
    known = set(RECIPES) | set(EXEMPT) | IN_PROCESS_ONLY
    assert routes - known == set(), "a mutating route with neither a race recipe nor an exemption"
    assert known - routes == set(), "a recipe or exemption for a route that is gone"


# -- in-process: stale If-Match is refused on every route -----------------------------


def _audit_count(engine, action: str, resource_id: str) -> int:
    with engine.connect() as c:
        return c.execute(text("SELECT count(*) FROM core_audit WHERE action = :a AND resource_id = :r"),
                         {"a": action, "r": resource_id}).scalar_one()


@pytest.fixture
def world(app, tokens):
    from egactl.sandbox import SyncASGITransport

    transport = SyncASGITransport(app)
    client = httpx.Client(transport=transport, base_url="http://backend")
    yield World(Api(client, tokens["admin"]), set())
    client.close()
    transport.close()


def _purge_recipe(w: World, clock) -> Target:
    address, _ = mailbox(w, "delete")
    clock.advance(days=400)
    tag = _etag_of(w.api, f"/api/v1/mail/mailboxes/{address}")
    return Target("POST", f"/api/v1/mail/mailboxes/{address}/purge", None, tag, "purge", address)


def _send(api: Api, t: Target, if_match: str | None) -> httpx.Response:
    headers = dict(api.headers)
    if if_match:
        headers["If-Match"] = if_match
    return api.client.request(t.method, t.path, json=t.body, params=t.params, headers=headers)


@pytest.mark.parametrize("route", sorted(set(RECIPES) | IN_PROCESS_ONLY), ids=lambda k: f"{k[0]} {k[1]}")
def test_a_stale_if_match_is_refused_and_changes_nothing(world, backend, clock, route):
    t = _purge_recipe(world, clock) if route in IN_PROCESS_ONLY else RECIPES[route](world)
    if t.etag is None:
        pytest.skip("this resource has no ETag (its changes are guarded by a row lock)")
    stale = f'"v{int(t.etag.strip(chr(34)).lstrip("v")) + 7}"'
    r = _send(world.api, t, stale)
    assert r.status_code == 412, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert _audit_count(backend.engine, t.action, t.resource_id) == 0
    ok = _send(world.api, t, t.etag)
    assert ok.status_code in (200, 201), ok.text
    assert _audit_count(backend.engine, t.action, t.resource_id) == 1


def test_if_match_on_a_route_that_cannot_evaluate_it_is_refused(world, backend):
    """RFC 9110: an If-Match that names a version the target does not have is false (412), and
    the creation it guarded does not happen."""
    r = world.api.client.post("/api/v1/institutions", json={"code": "IFM1", "name": "If Match", "kind": "agency"},
                              headers={**world.api.headers, "If-Match": '"v1"'})
    assert r.status_code == 412, r.text
    assert world.api.call("GET", "/api/v1/institutions/IFM1", expect=404)


# -- served: the race --------------------------------------------------------------


def race(api_urls: list[str], token: str, t: Target) -> list[int]:
    """N requests at once, spread over the given servers (one database behind them)."""
    barrier = threading.Barrier(N)

    def one(i: int) -> int:
        with httpx.Client(base_url=api_urls[i % len(api_urls)], timeout=60) as client:
            headers = {"Authorization": f"Bearer {token}"}
            if t.etag:
                headers["If-Match"] = t.etag
            barrier.wait(timeout=60)
            try:
                return client.request(t.method, t.path, json=t.body, params=t.params, headers=headers).status_code
            except httpx.TimeoutException:
                return 0  # no answer within the client's timeout: reported as status 0

    with ThreadPoolExecutor(max_workers=N) as pool:
        return list(pool.map(one, range(N)))


def race_every_route(server, *more) -> dict[tuple[str, str], tuple[int, int, list[int]]]:
    """{route: (winners, audit entries, statuses)} for every recipe; ``more``: other servers
    on the same database that take their share of the racers."""
    engine = create_engine(normalise_url(server.database_url))
    client = httpx.Client(base_url=server.url, timeout=120)
    w = World(Api(client, server.admin_token), set())
    out = {}
    try:
        for route, recipe in sorted(RECIPES.items()):
            t = recipe(w)
            statuses = race([server.url, *(m.url for m in more)], server.admin_token, t)
            winners = sum(200 <= s < 300 for s in statuses)
            out[route] = (winners, _audit_count(engine, t.action, t.resource_id), statuses)
            print(f"{winners:3d} winners  {route[0]} {route[1]}  {sorted(statuses)}", flush=True)
    finally:
        client.close()
        engine.dispose()
    return out


def report(results) -> list[str]:
    print()
    failures = []
    for (method, path), (winners, audits, statuses) in results.items():
        odd = sorted({s for s in statuses if not 200 <= s < 300} - LOSERS)
        print(f"{winners:3d} winners {audits:3d} audit  {method:6s} {path}  {sorted(statuses)}")
        if winners != 1 or audits != 1 or odd:
            failures.append(f"{method} {path}: {winners} winners, {audits} audit entries, other statuses {odd}")
    return failures


# The recipes assign more USSD codes to one institution than the default quota allows.
RACE_ENV = {"EGACTL_USSD_QUOTA": "100"}


def test_twenty_same_etag_requests_one_winner_sqlite(tmp_path):
    server = start_server(tmp_path, extra_env=RACE_ENV)
    try:
        failures = report(race_every_route(server))
    finally:
        server.proc.terminate()
        server.proc.wait(timeout=10)
    assert not failures, "\n".join(failures)


def test_twenty_same_etag_requests_one_winner_postgresql(tmp_path, postgres_url):
    """Two `egactl serve` processes on one PostgreSQL database, as a shared deployment runs."""
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    servers = [start_server(tmp_path / name, postgres_url, extra_env=RACE_ENV) for name in ("a", "b")]
    try:
        failures = report(race_every_route(*servers))
    finally:
        for server in servers:
            server.proc.terminate()
            server.proc.wait(timeout=10)
    assert not failures, "\n".join(failures)


# -- tables: versioned, or saying why not ------------------------------------------


def test_every_table_is_versioned_or_says_why(app):
    from egactl.server.db import versioning_problems
    from egactl.server.models import CORE_TABLES

    tables = list(CORE_TABLES) + [t for part in app.state.backend.parts.values() for t in part.tables]
    assert versioning_problems(tables) == []


def test_a_plugin_whose_table_forgets_versioning_is_not_mounted(tmp_path, monkeypatch, caplog):
    from fastapi import APIRouter

    import egactl.server.app as app_module
    from egactl.plugin import BackendPart
    from egactl.server.db import Base
    from egactl.server.scope import ApiRoute

    class Forgetful(Base):  # only this test's fake plugin mounts its table
        __tablename__ = f"forgetful_things_{n()}"
        id = Column(Integer, primary_key=True)
        name = Column(String(20))

    router = APIRouter(route_class=ApiRoute)

    @router.get("/things")
    def things():
        return []

    part = BackendPart(router=router, tables=[Forgetful.__table__])
    monkeypatch.setattr(app_module, "load_parts", lambda only=None: {"forgetful": part})
    application = app_module.create_app(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        assert not [r for r in application.routes if getattr(r, "path", "").startswith("/api/v1/forgetful")]
        assert "forgetful" not in application.state.backend.parts
        assert any("forgetful" in r.getMessage() and "Forgetful" in r.getMessage() for r in caplog.records)
    finally:
        application.state.backend.engine.dispose()


# -- the CLI: state changes are made on what was read ----------------------------------


@pytest.fixture
def meanwhile(monkeypatch):
    """``meanwhile(change)``: right after the command's next read with ETag, ``change()`` runs,
    as if another administrator acted between what the command showed and what it sends."""
    from egactl.api_client import ApiClient

    pending: list[Callable[[], None]] = []
    original = ApiClient.get_with_etag

    def read_then_change(self, path):
        out = original(self, path)
        while pending:
            pending.pop()()
        return out

    monkeypatch.setattr(ApiClient, "get_with_etag", read_then_change)
    return pending.append


def _admin_api(app, tokens) -> Api:
    from egactl.sandbox import SyncASGITransport

    return Api(httpx.Client(transport=SyncASGITransport(app), base_url="http://backend"), tokens["admin"])


def _stored(backend, sql: str, **params) -> Any:
    with backend.engine.connect() as c:
        return c.execute(text(sql), params).scalar_one()


def _mail_cli_setup(cli) -> str:
    assert cli("mail", "domains", "add", "rita.go.tz", "-i", "RITA").exit_code == 0
    r = cli("mail", "create", "-i", "RITA", "-g", "Juma", "-f", "Mrisho", "-e", "123456789", "-o", "json")
    assert r.exit_code == 0, r.stderr
    return r.json()["address"]


def test_mail_suspend_acts_on_the_mailbox_as_shown(cli, app, tokens, backend, meanwhile):
    address = _mail_cli_setup(cli)
    api = _admin_api(app, tokens)
    meanwhile(lambda: api.call("PATCH", f"/api/v1/mail/mailboxes/{address}", {"title": "Registrar"}))
    r = cli("mail", "suspend", address, "--yes")
    assert r.exit_code == 5, r.stdout + r.stderr
    assert "changed since you read it" in r.stderr
    assert _stored(backend, "SELECT status FROM mail_mailboxes WHERE address = :a", a=address) == "active"
    assert _audit_count(backend.engine, "suspend", address) == 0
    assert cli("mail", "suspend", address, "--yes").exit_code == 0  # read again: it goes through


def test_sender_decision_acts_on_the_request_as_read(cli, app, tokens, backend, meanwhile):
    assert cli("sms", "senders", "request", "RITAINFO", "-i", "RITA").exit_code == 0
    api = _admin_api(app, tokens)
    meanwhile(lambda: api.call("POST", "/api/v1/sms/senders/RITAINFO/reject", {"note": "too generic"}))
    r = cli("sms", "senders", "approve", "RITAINFO")
    assert r.exit_code == 5, r.stdout + r.stderr
    assert _stored(backend, "SELECT status FROM sms_senders WHERE name = 'RITAINFO'") == "rejected"
    assert _audit_count(backend.engine, "approve", "RITAINFO") == 0


def test_approving_a_rejected_sender_is_a_conflict_naming_its_state(cli, backend):
    assert cli("sms", "senders", "request", "RITAINFO", "-i", "RITA").exit_code == 0
    assert cli("sms", "senders", "reject", "RITAINFO", "--note", "too generic").exit_code == 0
    r = cli("sms", "senders", "approve", "RITAINFO")
    assert r.exit_code == 5, r.stdout + r.stderr
    assert "cannot approve a sender ID that is rejected (approve needs pending or approved)" in r.stderr
    assert _stored(backend, "SELECT status FROM sms_senders WHERE name = 'RITAINFO'") == "rejected"
    assert _audit_count(backend.engine, "approve", "RITAINFO") == 0
    # Deciding what is already so stays a quiet success; withdrawing an approval is allowed.
    assert cli("sms", "senders", "reject", "RITAINFO").exit_code == 0
    assert _audit_count(backend.engine, "reject", "RITAINFO") == 1


def test_sms_group_delete_acts_on_the_group_as_shown(cli, app, tokens, backend, meanwhile):
    assert cli("sms", "group", "create", "wazazi", "-i", "RITA").exit_code == 0
    api = _admin_api(app, tokens)
    meanwhile(lambda: api.call("POST", "/api/v1/sms/groups/RITA/wazazi/members", {"members": [{"phone": PHONE}]}))
    r = cli("sms", "group", "delete", "wazazi", "-i", "RITA", "--yes")
    assert r.exit_code == 5, r.stdout + r.stderr
    assert _stored(backend, "SELECT count(*) FROM sms_groups WHERE name = 'wazazi'") == 1
    assert _audit_count(backend.engine, "delete", "RITA/wazazi") == 0


def test_list_member_removal_acts_on_the_list_as_shown(cli, app, tokens, backend, meanwhile):
    _mail_cli_setup(cli)
    r = cli("mail", "list-group", "create", "wote@rita.go.tz", "-i", "RITA", "--name", "Wote",
            "--member", "a@example.org", "--member", "b@example.org")
    assert r.exit_code == 0, r.stderr
    api = _admin_api(app, tokens)
    meanwhile(lambda: api.call("POST", "/api/v1/mail/lists/wote@rita.go.tz/members", {"members": ["c@example.org"]}))
    r = cli("mail", "list-group", "remove-members", "wote@rita.go.tz", "a@example.org", "--yes")
    assert r.exit_code == 5, r.stdout + r.stderr
    assert _stored(backend, "SELECT count(*) FROM mail_list_members") == 3
    assert _audit_count(backend.engine, "remove-members", "wote@rita.go.tz") == 0


def test_a_route_that_forgets_guard_cannot_ignore_if_match(tmp_path, monkeypatch):
    """A plugin route that changes a versioned row without ``etag.guard``: a request carrying an
    If-Match (stale or not) is refused with 412 and its change rolled back."""
    from fastapi import APIRouter

    import egactl.server.app as app_module
    from egactl.plugin import BackendPart
    from egactl.sandbox import SyncASGITransport
    from egactl.server.models import Institution
    from egactl.server.scope import ApiRoute, db
    from egactl.server.security import issue_token
    from egactl.server.seed import seed_core

    router = APIRouter(route_class=ApiRoute)

    @router.post("/careless/{code}")
    def careless(code: str):
        row = db().get(Institution, db().scalar(text("SELECT id FROM core_institutions WHERE code = :c"), {"c": code}))
        row.region = "Careless"
        db().flush()
        return {"region": row.region}

    monkeypatch.setattr(app_module, "load_parts", lambda only=None: {"careless": BackendPart(router=router)})
    application = app_module.create_app(f"sqlite:///{tmp_path / 'careless.db'}")
    be = application.state.backend
    with be.write_sessions() as s:
        seed_core(s, be.now())
        token, _ = issue_token(s, subject="admin@ega.go.tz", role="admin", now=be.now())
        s.commit()
    transport = SyncASGITransport(application)
    try:
        with httpx.Client(transport=transport, base_url="http://backend") as http:
            auth = {"Authorization": f"Bearer {token}"}
            tag = http.get("/api/v1/institutions/RITA", headers=auth).headers["ETag"]
            for sent in (tag, '"v99"'):
                r = http.post("/api/v1/careless/careless/RITA", headers={**auth, "If-Match": sent})
                assert r.status_code == 412, r.text
            assert http.get("/api/v1/institutions/RITA", headers=auth).json()["region"] != "Careless"
    finally:
        transport.close()
        be.engine.dispose()
