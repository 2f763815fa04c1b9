"""The one error type extraction raises."""


class ExtractError(ValueError):
    """A document cannot be read. The message names the file, where, what, and how to fix it:
    '<file>: <where>: <what>; <how to fix>' — the fix follows the last '; ' and holds none."""
