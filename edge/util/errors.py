"""The one exception type that the command line turns into a one-line error."""


class DigitliteError(Exception):
    """A problem the user can fix: bad input, missing data, wrong model file.

    The message is one line that names the file (or setting) and the reason;
    the CLI prints it as ``digitlite: error: <message>`` and exits non-zero.
    """


class DataError(DigitliteError):
    """MNIST files missing, corrupt, or not what they claim to be."""


def first_line(e: BaseException) -> str:
    """The first line of an exception's message (its type name if it has none).

    Libraries raise messages of many lines (MLIR dumps, arrays); errors here are one line.
    """
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
