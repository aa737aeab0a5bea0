"""User-facing errors: the CLI prints them as one line, never a traceback."""


class RagtuneError(Exception):
    """A problem the user can fix (bad input, missing index, wrong config)."""


class LoadError(RagtuneError):
    """A single input file could not be read; the rest of the batch goes on."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
