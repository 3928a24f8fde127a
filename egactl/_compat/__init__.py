"""Library internals in one place.

egactl uses a few things its libraries do not promise to keep: private modules
of typer (and of the click it vendors), and start-up shortcuts that rely on how
httpx and httpcore probe for optional modules. Every such use lives in this
package, each with the library versions it is written against and why it
exists, so that a library upgrade breaks here -- where tests/core/test_compat.py
checks each shim against the installed library -- and nowhere else.

- ``typer_internals``: lean parameter-value conversion (keeps pydantic out of
  every command), shell-completion plumbing, telling typer's own exceptions
  from ours;
- ``startup``: optional modules marked absent while a command runs.

The rest of egactl imports these names from here, never the private ones.
"""
