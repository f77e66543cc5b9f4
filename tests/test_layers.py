import subprocess
import sys

PLAIN = [
    "seqtui.tasks",
    "seqtui.models",
    "seqtui.training",
    "seqtui.evaluation",
    "seqtui.checkpoint",
    "seqtui.runs",
    "seqtui.runner",
    "seqtui.presets",
    "seqtui.history",
    "seqtui.launch",
    "seqtui.gradients",
    "seqtui.export",
    "seqtui.compare",
    "seqtui.projection",
    "seqtui.config",
    "seqtui.limits",
    "seqtui.sweep",
    "seqtui.executors",
    "seqtui.commands",
]


def test_plain_modules_never_import_textual():
    code = (
        f"import sys\nfor m in {PLAIN!r}: __import__(m)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'textual' or m.startswith('rich.live'))\n"
        "print(','.join(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"plain modules pulled in: {result.stdout}"


LIGHT = [
    "seqtui.config",
    "seqtui.limits",
    "seqtui.runs",
    "seqtui.presets",
    "seqtui.history",
    "seqtui.launch",
    "seqtui.export",
    "seqtui.compare",
    "seqtui.cli",
    "seqtui.commands",
    "seqtui.sweep",
    "seqtui.app",
]


def test_the_run_directory_layer_and_the_light_commands_never_import_torch():
    code = (
        f"import sys\nfor m in {LIGHT!r}: __import__(m)\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] == 'torch')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"torch pulled in by: {LIGHT}"
