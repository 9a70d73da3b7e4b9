"""The ``spendprint`` command line: exit 0 on success, 2 on bad input, 1 on internal error."""

from __future__ import annotations

import sys

import typer

from ..errors import SpendprintError
from ._app import app, console_err

# each module registers its commands on ``app`` (download_cmd on the ``mrio`` group)
from . import mrio as _mrio  # noqa: E402,F401  isort: skip
from . import (  # noqa: E402,F401  isort: skip
    batch_cmd as _batch,
    compare_cmd as _compare,
    concordance_cmd as _concordance,
    download_cmd as _download,
    run as _run,
    scenarios_cmd as _scenarios_cmd,
    serve as _serve,
    spa as _spa,
)


def _click_exceptions() -> tuple[tuple[type, ...], tuple[type, ...], tuple[type, ...]]:
    """(ClickException, Abort, Exit) classes of click *and* of the copy typer bundles.

    typer >= 0.29 raises the exceptions of its own ``typer._click`` (not subclasses of click's),
    older typer those of click; both are caught so a usage error is a short message and exit 2
    with any typer the package allows.
    """
    import importlib

    errors: list[type] = []
    aborts: list[type] = [typer.Abort]
    exits: list[type] = [typer.Exit]
    for name in ("click.exceptions", "typer._click.exceptions", "typer.exceptions"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        for attr, bucket in (("ClickException", errors), ("Abort", aborts), ("Exit", exits)):
            cls = getattr(mod, attr, None)
            if isinstance(cls, type) and cls not in bucket:
                bucket.append(cls)
    return tuple(errors), tuple(aborts), tuple(exits)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the typer app and map outcomes to exit codes.

    0 success; 2 bad input ([SpendprintError][spendprint.errors.SpendprintError] or a usage error:
    a one-line message, no traceback); 130 interrupted (Ctrl-C / SIGINT, after the commands'
    ``finally`` blocks cleaned up); 1 a bug (traceback).
    """
    click_errors, aborts, exits = _click_exceptions()
    _interrupt_on_sigint()
    try:
        rv = app(args=argv, standalone_mode=False, prog_name="spendprint")
    except SpendprintError as exc:
        console_err.print(f"[bold red]error:[/] {_short(exc)}", highlight=False, markup=True)
        return 2
    except KeyboardInterrupt:
        console_err.print("interrupted", highlight=False)
        return 130
    except aborts:  # click turns a KeyboardInterrupt during the command into Abort
        console_err.print("interrupted", highlight=False)
        return 130
    except exits as exc:
        return int(getattr(exc, "exit_code", 0) or 0)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    except click_errors as exc:
        exc.show()
        return 2
    # typer >= 0.29 turns a KeyboardInterrupt into Exit(130) and, outside standalone mode,
    # *returns* an Exit's code instead of raising it
    if isinstance(rv, int) and not isinstance(rv, bool):
        if rv == 130:
            console_err.print("interrupted", highlight=False)
        return rv
    return 0


def _interrupt_on_sigint() -> None:
    """SIGINT raises KeyboardInterrupt in this process, whatever the parent left it as.

    A shell starts background jobs with SIGINT ignored, and Python then keeps it ignored, so a
    SIGINT sent to the run did nothing and it finished with exit 0; some native libraries reset
    it to the default action, which kills the process without cleaning up. The CLI promises exit
    130 after cleaning up, so the Python handler is installed explicitly (main thread only).
    """
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _short(exc: BaseException, limit: int = 2000) -> str:
    """The message, cut (a 9 MB category name is not echoed back); rich markup escaped."""
    from rich.markup import escape

    text = str(exc)
    if len(text) > limit:
        text = text[:limit] + f" ... ({len(text):,} characters)"
    return escape(text)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
