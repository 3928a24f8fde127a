"""/api/v1/esb/clients: the bus's clients, an institution's systems with their keys.

Admins register clients for any institution, operators for their own; the help
desk reads them all. The secret is made by the bus and shown once, in the
create's answer; the bus keeps only its hash.
"""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from egactl.plugin.server import (ApiRoute, Problem, audit, backend, db, insert_unique, iso, page, principal,
                                  require_institution, secret_response, visible)
from egactl_esb import rules
from egactl_esb.server.models import EsbClient
from egactl_esb.server.schemas import ClientCreated, ClientIn, ClientOut, ClientPage
from egactl_esb.server.service import fingerprint, hash_secret, new_secret

router = APIRouter(route_class=ApiRoute, tags=["esb"])


def serialize(row: EsbClient) -> dict:
    return {"client_id": row.client_id, "institution": row.institution, "curve": row.curve,
            "key_fingerprint": fingerprint(row.public_key), "public_key": row.public_key,
            "created_at": iso(row.created_at), "created_by": row.created_by}


@router.get("/clients", response_model=ClientPage)
def list_clients(cursor: str | None = None, limit: int | None = None, institution: str | None = None):
    stmt = visible(select(EsbClient), EsbClient.institution, institution and institution.strip())
    return page(db(), stmt, EsbClient.id, cursor=cursor, limit=limit, serialize=serialize)


@router.get("/clients/{client_id}", response_model=ClientOut)
def show_client(client_id: str):
    row = db().scalar(select(EsbClient).where(EsbClient.client_id == client_id))
    if row is None:
        raise Problem(404, f"client {client_id} not found")
    principal().check_read(row.institution, lookup=f"client {client_id}")
    return serialize(row)


@router.post("/clients", response_model=ClientCreated, status_code=201)
@secret_response("client")
def create_client(body: ClientIn):
    inst = require_institution(body.institution)
    key = rules.import_public(body.public_key)
    secret = new_secret()
    row = EsbClient(client_id=body.client_id, institution=inst.code, secret_hash=hash_secret(secret),
                    public_key=rules.export_public(key), curve=rules.curve_name(key), created_at=backend().now(),
                    created_by=principal().subject)
    insert_unique(row, f"client {body.client_id} already exists")
    data = serialize(row)
    audit.record("create", "esb_client", row.client_id, institution=inst.code,
                 after={k: v for k, v in data.items() if k != "public_key"})
    return {**data, "client_secret": secret}
