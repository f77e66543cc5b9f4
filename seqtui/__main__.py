from seqtui.cli import entry

entry()
