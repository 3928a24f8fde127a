"""egactl esb send: a signed request through the bus, its signed answer verified."""

from __future__ import annotations

import json
from typing import Annotated, Any, Optional

import typer

from egactl.plugin.cli import Column, EgactlError, InvalidInput, context, enforce
from egactl.plugin.rules import RuleError
from egactl_esb.commands.common import BadSignature, Refused, read_text

COLUMNS = [Column("success"), Column("signature"), Column("message"), Column("code"), Column("kind"),
           Column("elapsed_ms", "MS"), Column("request_id", "REQUEST ID", wide=True), Column("body")]


def send(code: Annotated[str, typer.Argument(metavar="CODE", help="The API code (the push code with --push).",
                                             show_default=False)],
         body: Annotated[Optional[str], typer.Option("--body", metavar="FILE",
                                                     help="The esbBody: a JSON file (an XML fragment with --xml), "
                                                          "or - for standard input; {} (empty) when left out.")] = None,
         xml: Annotated[bool, typer.Option("--xml", help="Send an XML envelope (the API's format must be xml).")] = False,
         encrypt: Annotated[bool, typer.Option("--encrypt",
                                               help="Encrypt the esbBody for the bus; its answer comes back encrypted "
                                                    "for you and is decrypted.")] = False,
         push: Annotated[bool, typer.Option("--push", help="A push (/push-request, data.pushCode) instead of a request.")] = False,
         user_id: Annotated[Optional[str], typer.Option("--user-id", metavar="ID",
                                                        help="A NIDA request (/nida-request) about this person.")] = None):
    """Send a signed request through GovESB and verify the bus's signed answer.

    The esbBody is signed with your private key (SHA256withECDSA), sent with your
    bus token (fetched and cached by `egactl esb token show`), and the answer's
    signature is verified with the bus's public key before anything is believed.
    Prints the answer's body, "signature: valid", the bus's verdict and the time.

    Exit 0 only when the answer's signature is valid and it says success: true;
    8 when its signature does not verify (altered, or another key); 9 when the
    bus answers success: false (an unknown code, a refused signature, an expired
    or replaced token: its message says which); 4 when the bus refuses the client
    credentials; 7 when it cannot be reached.

    Examples:

      egactl esb send RITA-BIRTH-VERIFY --body birth-query.json

      egactl esb send RITA-BIRTH-VERIFY --body birth-query.json --encrypt -o json

      egactl esb send NIDA-PERSON --user-id 19900101-12345-00001-23 --body - < query.json

      egactl esb send TRA-RECEIPTS --push --body receipt.json
    """
    from egactl_esb import rules
    from egactl_esb.commands import connection

    ctx = context.get()
    if push and user_id is not None:
        raise InvalidInput("--push and --user-id: a push is not a NIDA request; choose one")
    kind = "push" if push else ("nida" if user_id is not None else "request")
    enforce(rules.check_api_code, code, flag="CODE")
    if user_id is not None:
        enforce(rules.check_user_id, user_id, flag="--user-id")
    fmt = "xml" if xml else "json"
    payload = _read_body(body, fmt)
    conn = connection.resolve(ctx)
    key = conn.private_key()
    bus_public = conn.bus_public_key(ctx)
    engine = conn.need("engine_url", "--engine-url")
    try:
        sent_body = rules.seal_body(payload, bus_public, fmt) if encrypt else payload
        data = rules.request_data(kind, code, sent_body, fmt=fmt, user_id=user_id)
        envelope = rules.sign_data(data, key, root="esbrequest")
    except RuleError as exc:
        raise InvalidInput(f"--body: {exc}") from None
    result = exchange(ctx, conn, kind, envelope, fmt, key=key, bus_public=bus_public, engine=engine)
    result.update(code=code, kind=kind)
    result.pop("date", None)
    show(ctx, result)
    if not result["success"]:
        hint = None
        if str(result["message"]).startswith("Unauthorized:"):
            connection.forget_token(conn)  # expired or replaced: the next run fetches a fresh one
            hint = "the cached bus token was dropped; run the command again to fetch a fresh one"
        raise Refused(f"the bus answered success: false: {result['message']}", hint=hint)


def _read_body(name: str | None, fmt: str) -> Any:
    if name is None:
        return {} if fmt == "json" else ""
    text = read_text(name)
    if fmt == "xml":
        return text.strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"--body {name}: not JSON (line {exc.lineno} column {exc.colno}: {exc.msg}); "
                           "an XML body needs --xml") from None


def exchange(ctx: Any, conn: Any, kind: str, envelope: str, fmt: str, *, key: Any, bus_public: Any,
             engine: str) -> dict[str, Any]:
    """POST the envelope to the engine with the bus token; the verified answer as a record."""
    from egactl_esb import client, rules
    from egactl_esb.commands import connection

    bearer, _, _ = connection.token(ctx, conn)
    media = "application/json" if fmt == "json" else "application/xml"
    reply = client.post(ctx, engine + rules.KINDS[kind][1], content=envelope.encode("utf-8"),
                        headers={"Authorization": f"Bearer {bearer}", "Content-Type": media, "Accept": media})
    if reply.status >= 400:
        raise EgactlError(f"the bus answered HTTP {reply.status} to {rules.KINDS[kind][1]}, not a signed envelope"
                          + (f": {reply.text[:200]}" if reply.text and "json" in reply.content_type else ""))
    try:
        answer = rules.parse_envelope(reply.text)
    except RuleError as exc:
        raise EgactlError(f"the bus's answer is not an envelope: {exc}") from None
    try:
        rules.verify(answer.data_bytes, answer.signature, bus_public)
    except RuleError as exc:
        raise BadSignature(f"the bus's answer: {exc}",
                           hint="nothing in it can be trusted; if the bus's key changed, set the new one with "
                                "`egactl esb config set --esb-public-key FILE`") from None
    fields = rules.read_fields(answer)
    body = fields.body
    decrypted = False
    if body is not None and rules.is_sealed(body, fields.format):
        try:
            body, decrypted = rules.open_body(body, key, fields.format), True
        except RuleError as exc:
            raise BadSignature(f"the bus's answer is signed, but its esbBody does not decrypt: {exc}") from None
    return {"success": fields.get("success") is True, "signature": "valid", "message": fields.get("message") or "",
            "request_id": fields.get("requestId"), "elapsed_ms": round(reply.elapsed_ms, 1), "format": fields.format,
            "decrypted": decrypted, "curve": rules.curve_name(bus_public), "body": body, "date": reply.date}


def show(ctx: Any, result: dict[str, Any]) -> None:
    if ctx.fmt in ("table", "wide") and not ctx.query:
        out = ctx.io.out
        body = result["body"]
        if body is not None and body != "":
            out.write((json.dumps(body, indent=2, ensure_ascii=False) if result["format"] == "json" else str(body)) + "\n")
        out.write(f"signature: valid ({result['curve']} bus key, {result['format'].upper()} envelope"
                  + (", body decrypted" if result["decrypted"] else "") + ")\n")
        out.write(f"success: {'true' if result['success'] else 'false'} ({result['message']})\n")
        out.write(f"request id: {result['request_id']}\n")
        out.write(f"time: {result['elapsed_ms']:.0f} ms\n")
        out.flush()
    else:
        ctx.render(result, COLUMNS)
