import subprocess
import sys

PLAIN = ["seqtui.tasks", "seqtui.models", "seqtui.training", "seqtui.evaluation", "seqtui.checkpoint",
         "seqtui.runs", "seqtui.runner", "seqtui.presets", "seqtui.history", "seqtui.launch", "seqtui.gradients", "seqtui.export",
         "seqtui.compare", "seqtui.projection"]


def test_plain_modules_never_import_textual():
    code = (
        f"import sys\nfor m in {PLAIN!r}: __import__(m)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'textual' or m.startswith('rich.live'))\n"
        "print(','.join(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"plain modules pulled in: {result.stdout}"
