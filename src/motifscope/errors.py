"""The one exception type that user-facing input problems raise.

Every message is a single line that names the offending file (and line) or config key and
says how to fix it, so that a Snakemake log ends with a sentence a user can act on.
"""


class InputError(ValueError):
    """Bad user input: a file, a line of it, a config key or an argument.

    Subclasses ``ValueError`` so generic callers can still catch it; the message is always
    one line (newlines are folded into "; ").
    """

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split("\n")).strip())
