"""The Textual application. Only the command line (seqtui.cli) imports this package."""

from seqtui.app.app import SeqtuiApp, make_app

__all__ = ["SeqtuiApp", "make_app"]
