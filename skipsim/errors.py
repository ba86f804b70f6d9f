"""The one exception type that reaches the user.

Anything the user can fix (a missing file, an unknown name, an impossible
configuration) is raised as `UserError`; the CLI prints its message as one
line on stderr and exits with code 2. Everything else is a bug and keeps its
traceback.
"""


class UserError(Exception):
    """A problem with the user's input, reported as one line and exit code 2."""

    exit_code = 2
