"""User-facing errors: the CLI prints them as one line, never a traceback."""


class RagtuneError(Exception):
    """A problem the user can fix (bad input, missing index, wrong config)."""

    #: what the CLI exits with
    exit_code = 1


class LoadError(RagtuneError):
    """A single input file could not be read; the rest of the batch goes on."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class QuestionError(RagtuneError):
    """A question that cannot be asked (empty, too long): a usage error, exit 2 like the CLI's other ones."""

    exit_code = 2


class WorkerFinished(Exception):  # noqa: N818 (not an error: the normal end of a rank other than 0)
    """Raised when a data-parallel rank other than 0 has finished the loop: what follows (writing results) is rank
    0's. Here, not in train/distributed.py, so the CLI can catch it without importing torch on every command."""


class RagtuneWarning(UserWarning):
    """Something was repaired or skipped (a corrupt cache, a torn report line); the CLI shows it as one line."""


def first_line(exc: BaseException) -> str:
    """A library exception as one line of a RagtuneError (its first line, else its type's name), without the
    colour codes some libraries put in their messages."""
    from ragtune.text import printable

    lines = printable(str(exc)).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
