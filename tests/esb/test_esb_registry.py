"""The emulator's registry (clients, API codes): roles enforced by the backend, as users meet them."""

from __future__ import annotations

import json

from tests.esb.esb_bus import bus, keypair, loopback  # noqa: F401 (bus, loopback: fixtures)


def _create_client(cli, tmp_path, client_id, institution, role="admin"):
    keypair(tmp_path, client_id, "secp256k1")
    return cli("esb", "clients", "create", client_id, "-i", institution, "--public-key", str(tmp_path / f"{client_id}.pub"),
               "-o", "json", role=role)


def test_operators_register_clients_for_their_own_institution_only_and_the_help_desk_reads(cli, tmp_path, backend):
    r = _create_client(cli, tmp_path, "rita-crvs", "RITA", role="operator")
    assert r.exit_code == 0, r.stderr
    created = r.json()
    assert len(created["client_secret"]) >= 40 and created["curve"] == "secp256k1"
    r = _create_client(cli, tmp_path, "tra-idras", "TRA", role="operator")
    assert r.exit_code == 4 and "may not change resources of institution TRA" in r.stderr
    r = _create_client(cli, tmp_path, "tra-idras", "TRA", role="helpdesk")
    assert r.exit_code == 4 and "read-only" in r.stderr
    assert _create_client(cli, tmp_path, "tra-idras", "TRA").exit_code == 0
    seen = {role: [c["client_id"] for c in cli("esb", "clients", "list", "-o", "json", role=role).json()]
            for role in ("admin", "operator", "operator_tra", "helpdesk")}
    assert seen == {"admin": ["tra-idras", "rita-crvs"], "operator": ["rita-crvs"], "operator_tra": ["tra-idras"],
                    "helpdesk": ["tra-idras", "rita-crvs"]}
    assert cli("esb", "clients", "show", "tra-idras", role="operator").exit_code == 3  # not RITA's: not found
    # the bus keeps only the secret's hash; a second create of the id is a conflict
    from sqlalchemy import text

    with backend.read_sessions() as s:
        stored = s.execute(text("SELECT secret_hash FROM esb_clients WHERE client_id = 'rita-crvs'")).scalar()
    assert stored != created["client_secret"] and len(stored) == 64
    assert _create_client(cli, tmp_path, "rita-crvs", "RITA").exit_code == 5


def test_api_codes_by_role_and_who_serves_a_code_for_the_help_desk(cli):
    def create(code, inst, *consumers, role="admin", extra=()):
        args = ["esb", "apis", "create", code, "-i", inst, "--endpoint", f"https://{inst.lower()}.example/esb"]
        for c in consumers:
            args += ["--consumer", c]
        return cli(*args, *extra, role=role)

    assert create("RITA-BIRTH", "RITA", "TRA", role="operator").exit_code == 0
    r = create("TRA-RECEIPTS", "TRA", role="operator")
    assert r.exit_code == 4 and "TRA" in r.stderr
    assert create("TRA-RECEIPTS", "TRA", "NIDA", role="operator_tra").exit_code == 0
    assert create("NIDA-PERSON", "NIDA", "MOH").exit_code == 0
    assert create("NIDA-PERSON", "NIDA", "MOH", role="helpdesk").exit_code == 4
    again = create("NIDA-PERSON", "NIDA", "MOH")
    assert again.exit_code == 0 and "exists: already there exactly as asked" in again.stderr
    differs = create("NIDA-PERSON", "NIDA", "TRA")
    assert differs.exit_code == 5 and "consumers" in differs.stderr
    codes = {role: sorted(a["code"] for a in cli("esb", "apis", "list", "-o", "json", role=role).json())
             for role in ("admin", "operator", "operator_tra", "helpdesk")}
    assert codes == {"admin": ["NIDA-PERSON", "RITA-BIRTH", "TRA-RECEIPTS"], "operator": ["RITA-BIRTH"],
                     "operator_tra": ["RITA-BIRTH", "TRA-RECEIPTS"],  # TRA consumes RITA-BIRTH
                     "helpdesk": ["NIDA-PERSON", "RITA-BIRTH", "TRA-RECEIPTS"]}
    r = cli("esb", "apis", "show", "RITA-BIRTH", "-o", "json", role="helpdesk")
    assert r.exit_code == 0 and r.json()["institution"] == "RITA" and r.json()["endpoint"] == "https://rita.example/esb"
    assert cli("esb", "apis", "show", "NIDA-PERSON", role="operator").exit_code == 3
    assert cli("esb", "apis", "show", "NOPE-1").exit_code == 3
    bad = cli("esb", "apis", "create", "X-1", "-i", "RITA", "--endpoint", "ftp://x")
    assert bad.exit_code == 2 and "--endpoint" in bad.stderr
    assert cli("esb", "apis", "create", "X-1", "-i", "RITA", "--endpoint", "https://x.example", "--consumer",
               "NOPE").exit_code == 3


def test_the_bus_key_is_made_once_and_only_its_public_half_is_shown(cli, backend):
    first = json.loads(cli("api", "GET", "/api/v1/esb/key").stdout)
    again = json.loads(cli("api", "GET", "/api/v1/esb/key", role="helpdesk").stdout)
    assert first == again and first["curve"] == "secp256k1" and set(first) == {"public_key", "curve", "key_fingerprint"}
    from sqlalchemy import text

    with backend.read_sessions() as s:
        assert s.execute(text("SELECT count(*) FROM esb_keys")).scalar() == 1
