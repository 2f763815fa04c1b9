"""The one error type extraction raises."""


class ExtractError(ValueError):
    """A document cannot be read: `where` (the file, and the page or byte when known), `what` is
    wrong and `fix`: what to do about it. `setting` names the config limit whose raising would
    let the file through (`limits.max_pages`), empty when none would; the flow adds to the fix
    where that setting lives, as the config file in use is not known here."""

    def __init__(self, where: str, what: str, fix: str, setting: str = "") -> None:
        super().__init__(where, what, fix, setting)  # args: so the error pickles across processes
        self.where, self.what, self.fix, self.setting = where, what, fix, setting

    def __str__(self) -> str:
        raise_it = f", or raise {self.setting} in the config" if self.setting else ""
        return f"{self.where}: {self.what}; {self.fix}{raise_it}"
