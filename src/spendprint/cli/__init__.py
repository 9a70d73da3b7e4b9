"""The ``spendprint`` command line: exit 0 on success, 2 on bad input, 1 on internal error."""

from __future__ import annotations

import sys

import typer

from ..errors import SpendprintError
from ._app import app, console_err

# each module registers its commands on ``app``
from . import mrio as _mrio  # noqa: E402,F401  isort: skip


def _register_optional() -> None:
    import importlib

    for name in ("run", "spa", "serve"):
        try:
            importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:  # a command whose module is not part of this build
            if exc.name != f"{__name__}.{name}":
                raise


_register_optional()


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the typer app, turning user errors into exit code 2 without a traceback."""
    try:
        app(args=argv, standalone_mode=False)
    except SpendprintError as exc:
        console_err.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True)
        return 2
    except (typer.Exit, SystemExit) as exc:
        code = getattr(exc, "exit_code", getattr(exc, "code", 0))
        return int(code or 0)
    except typer.Abort:
        console_err.print("aborted")
        return 130
    except KeyboardInterrupt:
        console_err.print("interrupted")
        return 130
    except Exception as exc:  # click usage errors and real bugs
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            return 2
        raise
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
