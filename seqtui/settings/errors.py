"""The one error type the command line turns into a single clear line."""


class SeqtuiError(Exception):
    """Something the user can fix: bad input, a missing or corrupt run, an impossible setting."""
