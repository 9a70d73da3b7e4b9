"""Error classes. User errors subclass `SpendprintError`; the CLI turns them into exit code 2."""

from __future__ import annotations


class SpendprintError(Exception):
    """Base class of every error spendprint raises on purpose."""


class ValidationError(SpendprintError, ValueError):
    """An input has a bad value, shape or label. The message says which and where."""


class LabelMismatchError(ValidationError):
    """Labels of two inputs disagree (regions, sectors, stressors, categories)."""


class NotProductiveError(ValidationError):
    """(I - A) is singular or the economy described by A is not productive."""


class InputFileError(ValidationError):
    """A file is missing, truncated or not of the expected layout."""

    def __init__(self, path: object, message: str) -> None:
        self.path = str(path)
        super().__init__(f"{path}: {message}")


class LedgerError(ValidationError):
    """One or more problems in a ledger, concordance or table; ``problems`` lists them all."""

    def __init__(self, problems: list[str], source: str = "input") -> None:
        self.problems = list(problems)
        head = f"{len(self.problems)} problem(s) in {source}:"
        shown = self.problems[:50]
        more = len(self.problems) - len(shown)
        tail = [f"... and {more} more"] if more > 0 else []
        super().__init__("\n  ".join([head, *shown, *tail]))


class ConvergenceError(SpendprintError):
    """An iterative solver did not reach its tolerance."""
