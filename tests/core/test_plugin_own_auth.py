"""SDK 2.2: a plugin route that authenticates its callers itself (``@own_authentication``).

Such a route speaks another system's protocol (the GovESB emulator's callers hold the
bus's OAuth token): the frame reads no egactl token for it, runs it in its transaction
with an anonymous principal that may read and change nothing, and the audit entries name
whoever the route says it authenticated (``act_as``)."""

from __future__ import annotations

import httpx
import pytest


@pytest.fixture
def own_app(tmp_path, monkeypatch, clock):
    from fastapi import APIRouter, Header

    import egactl.server.app as app_module
    from egactl.plugin import BackendPart
    from egactl.plugin.server import ApiRoute, act_as, audit, own_authentication, principal
    from egactl.server.seed import seed_core

    router = APIRouter(route_class=ApiRoute)

    @router.post("/hook")
    @own_authentication
    def hook(x_bus_key: str | None = Header(default=None), write_as: str | None = None):
        before = principal()
        seen = {"before": before.subject, "role": before.role, "can_read_rita": before.can_read("RITA"),
                "can_write_rita": before.can_write("RITA")}
        if x_bus_key != "open-sesame":
            principal().check_write("RITA")  # what a route that forgot act_as would get: 403
        act_as("bus-client-7", role="operator", institutions=("RITA",))
        audit.record("ping", "hook", "1", institution="RITA")
        return seen

    @router.post("/framed")
    def framed():
        audit.record("ping", "framed", "1")
        return {"subject": principal().subject}

    @router.post("/misuse")
    def misuse():
        act_as("someone", role="admin")
        return {}

    real = app_module.load_parts

    def parts(only=None):
        found = real(only)
        found["own"] = BackendPart(router=router)
        return found

    monkeypatch.setattr(app_module, "load_parts", parts)
    application = app_module.create_app(f"sqlite:///{tmp_path / 'own.db'}", clock=clock)
    be = application.state.backend
    with be.write_sessions() as session:
        seed_core(session, be.now())
        session.commit()
    yield application
    be.engine.dispose()


def _audit(app, resource_type):
    from sqlalchemy import select

    from egactl.server.models import AuditEntry

    with app.state.backend.read_sessions() as s:
        return [(e.actor, e.role, e.institution) for e in s.scalars(select(AuditEntry).where(
            AuditEntry.resource_type == resource_type))]


def _client(app):
    from egactl.sandbox import SyncASGITransport

    return httpx.Client(transport=SyncASGITransport(app), base_url="http://egactl")


def test_an_own_authentication_route_is_reached_without_an_egactl_token_and_audits_its_caller(own_app):
    with _client(own_app) as http:
        r = http.post("/api/v1/own/hook", headers={"X-Bus-Key": "open-sesame"})
        assert r.status_code == 200, r.text
        assert r.json() == {"before": "anonymous", "role": "anonymous", "can_read_rita": False,
                            "can_write_rita": False}
        assert http.post("/api/v1/own/framed").status_code == 401  # the frame's check, without the mark
    assert _audit(own_app, "hook") == [("bus-client-7", "operator", "RITA")]


def test_an_egactl_token_gives_an_own_authentication_route_no_rights(own_app):
    from egactl.server.security import issue_token

    be = own_app.state.backend
    with be.write_sessions() as session:
        admin, _ = issue_token(session, subject="admin@ega.go.tz", role="admin", now=be.now())
        session.commit()
    with _client(own_app) as http:
        smuggled = http.post("/api/v1/own/hook", headers={"Authorization": f"Bearer {admin}"})
        assert smuggled.status_code == 403
        assert "may not change resources of institution RITA" in smuggled.json()["detail"]
        assert http.post("/api/v1/own/framed", headers={"Authorization": f"Bearer {admin}"}).json() == {
            "subject": "admin@ega.go.tz"}
        # act_as is refused outside an own-authentication route: a 500, nothing stored
        assert http.post("/api/v1/own/misuse", headers={"Authorization": f"Bearer {admin}"}).status_code == 500
    assert _audit(own_app, "hook") == []  # the refused request's work was rolled back


def test_an_own_authentication_route_is_still_required_to_be_in_the_frame():
    from fastapi import APIRouter

    from egactl.plugin.server import own_authentication
    from egactl.server.app import _require_frame

    plain = APIRouter()

    @plain.post("/hook")
    @own_authentication
    def hook():
        return {}

    with pytest.raises(RuntimeError, match="not an egactl ApiRoute"):
        _require_frame(plain)
