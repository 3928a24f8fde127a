"""The command side of the plugin SDK: what a plugin's ``commands`` module uses.

Import-light (no backend, no HTTP library at import time): it is imported
whenever any of the plugin's commands runs, including ``--help``.

- ``context.get()``: the invocation's :class:`Context`: ``ctx.api`` (the API
  client for the active profile), ``ctx.render(...)``/``ctx.success(...)`` (output
  in the format the user chose), ``ctx.io`` (streams), ``ctx.confirm(...)``,
  ``ctx.institution(flag)``, ``ctx.now()`` (the command's clock: never call
  ``datetime.now()`` in a command).
- Shared options, so one flag means one thing in every plugin: ``Yes``,
  ``DryRun``, ``Limit``/``DEFAULT_LIMIT``/``All``/``page_limit``, ``OldestFirst``,
  ``Institution``, ``CsvFile``, ``SkipInvalid``, ``Resume``, ``Restart``,
  ``Results``.
- ``Column``: a column of a table, shared by every output format.
- Errors, each with its exit code (``EXIT_*``): ``EgactlError`` (1),
  ``InvalidInput`` (2), ``NotFound`` (3), ``AuthError`` (4), ``Conflict`` (5),
  ``PartialFailure`` (6), ``Unreachable``/``Busy`` (7).
- ``bulk``: the CSV machinery of every import command (``bulk.Job``,
  ``bulk.run``, ``bulk.finish_command``, ``bulk.read_csv``, ...).
- ``Watch`` (``--watch [SECONDS]``) with ``watch(ctx, fetch, cols, every=watch_seconds(value),
  done=..., key=..., what=...)``: redraws in a terminal, one line per changed
  record when piped, ends when ``done(data)`` (``egactl.watch``).
- ``complete_from(path, field, help_field=None, **query)``: an ``autocompletion=``
  callback completing values from the API (cached briefly; never fails loudly),
  as ``-i/--institution`` completes institution codes (``egactl.completion_values``).
- ``time_for_people(value)``: ``2026-11-29 22:47 EAT``, the one time format for people
  (a table shows RFC 3339 values this way by itself; this is for text a command writes).
- The grammar (``egactl.grammar``): ``VERBS``, the only words a command may be
  named by; ``formerly(app, "add")`` above ``@app.command("create")`` keeps an old
  command name as a hidden alias for a release, ``formerly_group`` a group's,
  and ``@old_flags({"--status": "--state"})`` an option's old spelling.
- ``plugin_config``: the plugin's own settings per profile (``load``/``save`` of its
  table ``[profiles.<profile>.plugins.<plugin>]`` in the config file) and its secrets
  (``get_secret``/``store_secret``/``delete_secret``: the OS keyring or the owner-only
  file, as tokens; ``EGACTL_<PLUGIN>_<NAME>`` overrides) (``egactl.plugin_config``).
- :func:`enforce`: the one adapter from a rule (``egactl.plugin.rules``) to a
  usage error.
- ``certificates``: a TLS server's certificate chain, read (``certificates.read``, or
  ``certificates.chain_of`` on a connection of your own) and judged
  (``certificates.judge``: OK, WARNING or CRITICAL by the earliest expiry, or why it
  does not verify), as ``dr check`` and ``esb check`` judge them (``egactl.certificates``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from egactl import __version__ as EGACTL_VERSION
from egactl import bulk as _bulk
from egactl import certificates as _certificates
from egactl import context as _context
from egactl.context import Context
from egactl.errors import (EXIT_AUTH, EXIT_CONFLICT, EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_OK, EXIT_PARTIAL,
                           EXIT_UNREACHABLE, EXIT_USAGE, AuthError, Busy, Conflict, EgactlError, InvalidInput,
                           NotFound, PartialFailure, Unreachable)
from egactl.completion_values import complete_from
from egactl.grammar import VERBS, formerly, formerly_group, old_flags
from egactl.options import (DEFAULT_LIMIT, All, CsvFile, DryRun, Institution, Limit, OldestFirst, Restart, Results,
                            Resume, SkipInvalid, Watch, Yes, page_limit)
from egactl.times import for_people as time_for_people
from egactl.watch import seconds as watch_seconds
from egactl.watch import watch
from egactl.output import Column
from egactl.plugin.rules import RuleError

__all__ = [
    "All", "AuthError", "Busy", "Column", "Conflict", "Context", "CsvFile", "DEFAULT_LIMIT", "DryRun",
    "EGACTL_VERSION", "EXIT_AUTH", "EXIT_CONFLICT", "EXIT_FAILURE", "EXIT_NOT_FOUND", "EXIT_OK", "EXIT_PARTIAL",
    "EXIT_UNREACHABLE", "EXIT_USAGE", "EgactlError", "Institution", "InvalidInput", "Limit", "NotFound",
    "OldestFirst", "PartialFailure", "Restart", "Results", "Resume", "SkipInvalid", "Unreachable", "VERBS", "Watch",
    "Yes", "time_for_people", "watch", "watch_seconds",
    "bulk", "certificates", "complete_from", "context", "enforce", "formerly", "formerly_group", "new_idempotency_key", "old_flags", "page_limit",
    "plugin_config", "write_private",
]


class context:  # a namespace, used as ``context.get()``
    """The running command's context."""

    get = staticmethod(_context.get)
    """``context.get() -> Context``: the context of the command being run."""


class bulk:  # a namespace, used as ``bulk.run(...)``
    """Bulk jobs from a CSV file: validate every row first, send in chunks, resume, report.

    ``bulk.Job`` describes the job (its file, required columns, ``parse(row)``
    raising ``bulk.RowError`` for a bad row, ``send(chunk)``); ``bulk.run(ctx,
    job, ...)`` runs it and returns a ``bulk.Summary``; ``bulk.finish_command(ctx,
    summary)`` prints it and exits 6 when some rows failed. ``bulk.read_csv`` and
    ``bulk.read_header`` read a file the way ``run`` does. ``bulk.run_job_id(ctx,
    job)`` is the job's identity (its file's content, options and target),
    ``bulk.JobState(job_id).load()`` what the last run of it left here, and
    ``bulk.file_digest(path)`` a file's content digest: for a command that must
    know before ``run`` whether this job ran before.
    """

    Job = _bulk.Job
    RowError = _bulk.RowError
    Summary = _bulk.Summary
    run = staticmethod(_bulk.run)
    finish_command = staticmethod(_bulk.finish_command)
    read_csv = staticmethod(_bulk.read_csv)
    read_header = staticmethod(_bulk.read_header)
    run_job_id = staticmethod(_bulk.run_job_id)
    JobState = _bulk.JobState
    file_digest = staticmethod(_bulk.file_digest)


class certificates:  # a namespace, used as ``certificates.read(host, port, ...)``
    """A TLS server's certificate chain, read and judged the one way every command does.

    ``trusting(ca_file=None, ca_pem=())``: a verifying ``ssl.SSLContext`` (the system's
    trust store, or the profile's ``ca_bundle`` file instead, plus private CAs as PEM
    text); ``read(host, port, context=, timeout=) -> Chain`` (``.verified``,
    ``.certificates`` leaf first, ``.earliest``; a chain that does not verify is still
    described; anything else raises ``OSError``); ``chain_of(ssl_object, verified=)``
    for a connection of your own, with ``describe_only_context()`` to look at one that
    did not verify; ``judge(chain, host, now=, warn_days=, crit_days=,
    untrusted_hint=None) -> Verdict`` (``.state`` OK/WARNING/CRITICAL, ``.text``,
    ``.days`` to the earliest expiry).
    """

    CertInfo = _certificates.CertInfo
    Chain = _certificates.Chain
    Verdict = _certificates.Verdict
    trusting = staticmethod(_certificates.trusting)
    describe_only_context = staticmethod(_certificates.describe_only_context)
    read = staticmethod(_certificates.read)
    chain_of = staticmethod(_certificates.chain_of)
    judge = staticmethod(_certificates.judge)


class plugin_config:  # a namespace, used as ``plugin_config.load("esb", profile)``
    """A plugin's settings per profile (the config file) and its secrets (keyring or owner-only file).

    ``load(plugin, profile) -> dict`` and ``save(plugin, profile, table)`` (the whole
    table; None values left out); ``get_secret(plugin, profile, name) -> Secret | None``
    (``.value``, ``.source``; ``EGACTL_<PLUGIN>_<NAME>`` first), ``store_secret(plugin,
    profile, name, value) -> (where, is_file_fallback)``, ``delete_secret(...) -> bool``;
    ``env_name(plugin, name)``: the overriding variable's name.
    """

    from egactl.plugin_config import delete_secret, env_name, get_secret, load, save, store_secret

    load = staticmethod(load)
    save = staticmethod(save)
    get_secret = staticmethod(get_secret)
    store_secret = staticmethod(store_secret)
    delete_secret = staticmethod(delete_secret)
    env_name = staticmethod(env_name)


def enforce(rule: Callable[..., Any], value: Any, *args: Any, flag: str | None = None, **kwargs: Any) -> Any:
    """Apply a rule to a command's input; a broken rule is a usage error (exit 2).

    ``rule`` is either convention of ``egactl.plugin.rules``: a ``check_*``
    returning the problem or None (``value`` is returned when it passes), or a
    normalising rule raising ``RuleError`` (its result is returned). ``flag``,
    e.g. ``"--contact-email"``, is named in front of the problem.
    """
    try:
        result = rule(value, *args, **kwargs)
    except RuleError as exc:
        problem: str | None = str(exc)
    else:
        if getattr(rule, "__name__", "").startswith("check_"):
            problem = result
            result = value
        else:
            problem = None
    if problem:
        raise InvalidInput(f"{flag}: {problem}" if flag else problem)
    return result


def new_idempotency_key() -> str:
    """A fresh ``Idempotency-Key`` for a request the API client sends by hand."""
    from egactl.api_client import new_idempotency_key as key

    return key()


def write_private(path: Path, data: bytes) -> None:
    """Write a file readable only by its owner (0600 from the first byte), atomically."""
    from egactl.paths import write_private as write

    write(path, data)
