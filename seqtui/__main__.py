from seqtui.cli.main import entry

entry()
