"""What starts at once stays light: the static plan (each package's imports) is import-linter's
to check (pyproject.toml); this checks what a process really loads when it imports them."""

import pkgutil
import subprocess
import sys

import seqtui

# the light part of the house: run directories, settings, sweeps' bookkeeping, the commands and
# the app's first screen, none of which may wait for torch to load
LIGHT_PACKAGES = ("seqtui.settings", "seqtui.store", "seqtui.sweep", "seqtui.cli")
LIGHT_MODULES = ("seqtui.app", "seqtui.app.app", "seqtui.session.launch")
TRAINING = ("seqtui.cli.display_training",)  # the live line of `seqtui train`, which loads torch anyway


def modules_of(package: str) -> list[str]:
    module = __import__(package, fromlist=["__path__"])
    return [package] + [f"{package}.{m.name}" for m in pkgutil.iter_modules(module.__path__)]


def loaded_by(modules: list[str], prefixes: tuple[str, ...]) -> list[str]:
    code = (
        f"import sys\nfor m in {modules!r}: __import__(m)\n"
        f"print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in {prefixes!r})))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return [m for m in result.stdout.strip().split(",") if m]


def test_the_light_modules_load_no_torch():
    light = [m for p in LIGHT_PACKAGES for m in modules_of(p) if m not in TRAINING] + list(LIGHT_MODULES)
    assert "seqtui.store.run" in light and "seqtui.cli.main" in light and "seqtui.sweep.driver" in light
    assert loaded_by(light, ("torch",)) == []


def test_nothing_below_the_app_loads_textual():
    below = [m for p in ("settings", "store", "core", "session", "sweep") for m in modules_of(f"seqtui.{p}")]
    assert "seqtui.core.training" in below
    assert loaded_by(below, ("textual", "textual_serve")) == []


def test_every_module_belongs_to_a_package_of_the_plan():
    top = {m.name for m in pkgutil.iter_modules(seqtui.__path__)}
    assert top == {"__main__", "settings", "store", "core", "session", "sweep", "app", "cli"}
