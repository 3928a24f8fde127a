"""No plugin can forget personal data: every column that holds a phone number, an e-mail
address, a name, an employee number or a message text says so (``info=personal(...)``),
or says why it is not a person's (``info={"personal": None, "why": ...}``).

Judged twice, for the core and every installed plugin: by the column's name, and by the
values the sandbox seeds into it (a value that looks like a phone number or an e-mail
address in an undeclared column fails, whatever the column is called).
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import JSON, LargeBinary, String, Text, select

from egactl.plugin import PERSONAL_KINDS
from egactl.server.app import components_of, load_parts

NAMES = re.compile(r"phone|msisdn|recipient|e?mail|name|text|body|message|employee|contact|address|reason|subject|"
                   r"actor|note|description|person|member|owner", re.I)
PHONE = re.compile(r"(?<!\d)(\+?255|0)[67]\d{8}(?!\d)")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")

NOT_YET: set[str] = set()
"""Components still to declare their columns (emptied as each does; an entry that passes fails the run)."""


def _components():
    return {c.name: c for c in components_of(load_parts())}


def _textual(column) -> bool:
    return isinstance(column.type, (String, Text, JSON, LargeBinary))


def _declared(column) -> bool:
    return "personal" in column.info


@pytest.fixture(scope="module")
def sandbox_engine(tmp_path_factory):
    from egactl.server.app import create_app

    app = create_app(f"sqlite:///{tmp_path_factory.mktemp('personal') / 'sandbox.db'}", sandbox=True)
    yield app.state.backend.engine
    app.state.backend.engine.dispose()


@pytest.mark.parametrize("name", sorted(_components()))
def test_every_personal_column_is_declared(name, sandbox_engine, request):
    if name in NOT_YET:
        request.applymarker(pytest.mark.xfail(strict=True, reason=f"{name} has not declared its personal columns yet"))
    problems = []
    for table in _components()[name].tables:
        for column in table.columns:
            if not _textual(column):
                continue
            where = f"{table.name}.{column.name}"
            if _declared(column):
                kind = column.info["personal"]
                if kind is not None and kind not in PERSONAL_KINDS:
                    problems.append(f"{where}: personal kind {kind!r} is not one of {PERSONAL_KINDS}")
                if kind is None and not column.info.get("why"):
                    problems.append(f"{where}: says it is not personal without saying why")
                continue
            if NAMES.search(column.name):
                problems.append(f"{where}: its name says it may hold personal data; declare it")
                continue
            if isinstance(column.type, LargeBinary):
                continue
            with sandbox_engine.connect() as conn:
                values = conn.execute(select(column).where(column.is_not(None)).limit(500)).scalars().all()
            looks = [v for v in map(str, values) if PHONE.search(v) or EMAIL.search(v)]
            if looks:
                problems.append(f"{where}: holds values like phone numbers or e-mail addresses; declare it")
    assert not problems, "\n".join(problems)


def test_a_kind_outside_the_list_is_refused():
    from egactl.plugin import personal

    with pytest.raises(ValueError, match="must be one of phone, email, name, employee_number, text"):
        personal("address")
