"""The one error type the command line turns into a single clear line."""


class SeqtuiError(Exception):
    """Something the user can fix: bad input, a missing or corrupt run, an impossible setting."""


class SettingError(SeqtuiError):
    """A setting's value is wrong. `setting` is its name in SETTINGS (`batch-size`), so the command
    line and the app's form each say where, in their own words; the message names it in words."""

    def __init__(self, message: str, setting: str):
        super().__init__(message)
        self.setting = setting


class ModelUnavailable(SettingError):
    """A model named by a setting or a file is not registered here: unknown, or its package is not
    installed. A run that names one is not damaged; this machine cannot build its model."""

    def __init__(self, message: str):
        super().__init__(message, "model")
