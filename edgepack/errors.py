"""Errors users can act on, each carrying the exit code the CLI returns for it.

The CLI prints `str(error)` as one line and exits with `error.exit_code`; anything else that
escapes is a real crash. Messages name the problem and, where there is one, the fix.
"""


class EdgepackError(Exception):
    """Usage or input problem: bad path, corrupt file, unknown architecture, ... (exit 2)."""

    exit_code = 2


class UntrustedCheckpointError(EdgepackError):
    """The checkpoint would need code execution to unpickle."""


class ValidationError(EdgepackError):
    """The written file does not reproduce the float model (exit 1, nothing kept)."""

    exit_code = 1


def one_line(text) -> str:
    """A message folded to one line (the CLI's contract: every error is one line)."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())
