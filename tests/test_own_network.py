"""A network from a package, not from seqtui: examples/forget-rnn, registered by its entry point.

The package is made visible the way pip installs one (a *.dist-info directory with its
entry_points.txt, beside the package on the path), from its own pyproject.toml, so what is tested
is the entry point it declares. Then it goes through everything a built-in model does.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import shutil
import sys
import tomllib
from pathlib import Path

import pytest
import torch
from conftest import seqtui_command, seqtui_here, small_config, wait_for_form

from seqtui.settings import networks
from seqtui.settings.presets import model_preset

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "forget-rnn"
SEQTUI = Path(__file__).resolve().parent.parent / "seqtui"


def register(site: Path, package_dir: Path | None, points: dict[str, str], name: str = "seqtui-forget-rnn") -> None:
    """Write what installing a package leaves in site-packages: its metadata and entry points."""
    info = site / f"{name.replace('-', '_')}-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1.0\n")
    lines = [f"{key} = {value}" for key, value in points.items()]
    (info / "entry_points.txt").write_text("[seqtui.models]\n" + "\n".join(lines) + "\n")
    if package_dir is not None:
        (site / package_dir.name).symlink_to(package_dir)


def use_site(site: Path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    networks.refresh()


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """examples/forget-rnn as if installed, for this process and the commands it starts."""
    declared = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]["entry-points"]["seqtui.models"]
    site = tmp_path / "site"
    register(site, EXAMPLE / "forget_rnn", declared)
    use_site(site, monkeypatch)
    yield site
    for module in [m for m in sys.modules if m == "forget_rnn" or m.startswith("forget_rnn.")]:
        del sys.modules[module]
    networks.refresh()


def test_seqtui_itself_never_names_the_example():
    for path in SEQTUI.rglob("*"):
        if path.is_file() and path.suffix in (".py", ".tcss", ".toml", ".md"):
            text = path.read_text()
            assert not any(name in text for name in ("forget-rnn", "forget_rnn", "ForgetRNN")), path


def test_an_installed_model_is_listed_by_name_without_importing_it(installed):
    assert "forget-rnn" in networks.names() and networks.package_of("forget-rnn") == "seqtui-forget-rnn"
    assert "forget_rnn" not in sys.modules  # the name came from the package's metadata
    from seqtui.settings.registry import SETTING

    assert "forget-rnn" in SETTING["model"].choices  # the command line's and the form's choices
    listed = seqtui_here("models")
    assert listed.returncode == 0, listed.stderr
    line = next(line for line in listed.stdout.splitlines() if line.startswith("forget-rnn"))
    assert "seqtui-forget-rnn" in line and "Elman ReLU RNN with a learned forget gate" in line and "forget" in line


def test_an_installed_model_trains_resumes_exactly_and_is_probed(installed, tmp_path):
    from seqtui.core.checkpoint import load_checkpoint, restore_trainer, save_checkpoint
    from seqtui.core.projection import fit_projection
    from seqtui.core.training import Budget, Trainer
    from seqtui.settings.config import ModelConfig

    config = small_config(model=ModelConfig("forget-rnn", 8), budget=Budget(steps=30), lr=1e-2)
    straight = Trainer(config)
    for _ in range(30):
        straight.train_step(1e-2)
    first = Trainer(config)
    for _ in range(12):
        first.train_step(1e-2)
    save_checkpoint(first, tmp_path / "c.safetensors")
    checkpoint = load_checkpoint(tmp_path / "c.safetensors")
    assert checkpoint.config.model.model == "forget-rnn"
    again = Trainer(config)
    restore_trainer(again, checkpoint)
    for _ in range(18):
        again.train_step(1e-2)
    for (name, a), b in zip(straight.model.state_dict().items(), again.model.state_dict().values()):
        assert torch.equal(a, b), name  # resumed exactly: the same weights as without a stop
    model = checkpoint.build_model()
    unrolled = model.unroll(torch.tensor([[1, 2, 1, 2]]))
    assert set(unrolled.states) == {"forget"} and len(unrolled.states["forget"]) == 4
    logits, hidden = model(torch.tensor([[1, 2, 1, 2]]))
    assert torch.allclose(logits, unrolled.logits) and torch.allclose(hidden[0, 1], unrolled.hidden[1][0])
    projection = fit_projection(model, config.task, "forget", per_length=20)
    assert projection.fitted_on > 0 and projection.components.shape == (2, 8)


def test_an_installed_model_through_the_command_line_and_a_sweep_beside_the_lstm(installed, tmp_path):
    run = tmp_path / "runs" / "mine"
    trained = seqtui_command(
        "train", "--model", "forget-rnn", "--hidden", "8", "--n-max", "3", "--samples", "3k",
        "--eval-samples", "300", "--run-dir", str(run), "--quiet",
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    config = json.loads((run / "config.json").read_text())
    assert config["model"] == {"model": "forget-rnn", "hidden": 8, "init": "default", "package": "seqtui-forget-rnn"}
    # the GRU's preset, as its spec says: the card's on a machine with one (no --device: auto)
    expected = model_preset("gru", gpu=torch.cuda.is_available())
    assert (config["lr"], config["batch_size"]) == (expected["lr"], expected["batch_size"])
    evaluated = seqtui_here("eval", str(run), "--samples", "200", "--json")
    assert evaluated.returncode == 0 and json.loads(evaluated.stdout)["worst"] >= 0, evaluated.stderr
    predicted = seqtui_here("predict", str(run), "1212", "--json")
    assert predicted.returncode == 0 and "p_match" in predicted.stdout, predicted.stderr
    flow = seqtui_here("gradients", str(run), "--samples", "16", "--json")
    assert flow.returncode == 0, flow.stderr
    assert set(json.loads(flow.stdout)["ratio_by_length"]) == {"2", "4", "6"}, flow.stdout  # sequence lengths
    swept = seqtui_command(
        "sweep", "--model", "lstm,forget-rnn", "--hidden", "8", "--n-max", "2", "--samples", "2k",
        "--eval-samples", "200", "--root", str(tmp_path / "runs"), "--name", "pair",
    )  # fmt: skip
    assert swept.returncode == 0, swept.stderr
    report = (tmp_path / "runs" / "pair" / "report.md").read_text()
    assert "## forget-rnn: accuracy by length" in report and "## lstm: accuracy by length" in report
    rows = list(csv.DictReader(open(tmp_path / "runs" / "pair" / "report.csv")))
    assert {row["model"] for row in rows} == {"lstm", "forget-rnn"}


def test_the_probe_screen_and_f6_show_an_installed_model(installed, tmp_path):
    from seqtui.app import make_app
    from seqtui.app.widgets.heatmap import Heatmap
    from seqtui.core.training import Budget
    from seqtui.session import runner
    from seqtui.settings.config import ModelConfig
    from seqtui.store.run import Run

    run = Run.create(
        tmp_path / "runs" / "mine", small_config(model=ModelConfig("forget-rnn", 8), budget=Budget(steps=20))
    )
    runner.train(run)

    async def scenario():
        app = make_app(run.path.parent, run.path)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("f4")
            screen = app.screen
            for _ in range(400):
                if screen.model is not None:
                    break
                await pilot.pause(0.05)
            await pilot.press(*"1 2 1 2", "enter")
            heatmap = screen.query_one("#hidden-map", Heatmap)
            assert "hidden state" in heatmap.title and "x: hidden/forget" in heatmap.title
            await pilot.press("x")
            assert "forget state" in heatmap.title and len(heatmap.rows) == 4 and len(heatmap.rows[0]) == 8
            await pilot.press("f6")  # its gradient flow, measured with each evaluation while it trained
            for _ in range(400):
                if "gradient flow at step 20" in str(app.screen.query_one("#gradients-status").render()):
                    break
                await pilot.pause(0.05)
            ratios = str(app.screen.query_one("#gradients-ratios").render())
            assert all(f"{n}: " in ratios for n in (2, 4, 6)), ratios

    asyncio.run(scenario())


def test_the_new_run_form_offers_installed_models_and_says_why_one_cannot_be_used(installed, tmp_path):
    from textual.widgets import Input, Label, Select

    from seqtui.app import make_app

    register(installed, None, {"broken": "no_such_module:SPEC"}, name="seqtui-broken")
    networks.refresh()

    async def scenario():
        app = make_app(tmp_path / "runs")
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("f3", "n")
            await wait_for_form(pilot)
            form = app.screen
            model = form.query_one("#f-model", Select)
            options = [value for _, value in model._options]
            assert {"forget-rnn", "broken", "lstm", "lru"} <= set(options)
            form.query_one("#f-hidden", Input).value = "7"
            model.value = "forget-rnn"
            await pilot.pause()
            assert form.query_one("#f-hidden", Input).value == "64"  # the GRU's preset, as its spec says
            assert str(form.query_one("#e-model", Label).render()) == ""
            model.value = "broken"
            await pilot.pause()
            error = str(form.query_one("#e-model", Label).render())
            assert "cannot be loaded" in error and "seqtui-broken" in error

    asyncio.run(scenario())


def test_a_run_whose_model_is_not_installed_is_listed_with_the_package_and_refused_in_one_line(
    installed, tmp_path, monkeypatch
):
    run = tmp_path / "runs" / "mine"
    trained = seqtui_command(
        "train", "--model", "forget-rnn", "--hidden", "4", "--n-max", "2", "--steps", "3",
        "--eval-samples", "100", "--run-dir", str(run), "--quiet",
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    for module in [m for m in sys.modules if m.startswith("forget_rnn")]:
        del sys.modules[module]
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(installed)])
    monkeypatch.setenv("PYTHONPATH", "")
    networks.refresh()  # uninstalled
    if networks.is_known("forget-rnn"):
        pytest.skip("examples/forget-rnn is installed in this environment: it cannot be uninstalled here")
    why = "model 'forget-rnn' is not installed: it comes from the package 'seqtui-forget-rnn'"
    listed = seqtui_here("runs", "--root", str(tmp_path / "runs"))
    assert listed.returncode == 0 and why in listed.stderr, listed.stderr  # piped: the why on stderr
    for args in (
        ["eval", str(run)],
        ["predict", str(run), "1212"],
        ["gradients", str(run)],
        ["train", "--resume", str(run)],
    ):
        result = seqtui_command(*args)
        assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and why in lines[0], (args, result.stderr)
    assert "forget_rnn" not in sys.modules


def test_a_name_in_a_file_never_imports_code(tmp_path, monkeypatch):
    """config.json naming a module, a class path or a package not installed: refused, nothing imported."""
    source = tmp_path / "src"  # the package's code alone: importable, but not installed (no metadata)
    shutil.copytree(EXAMPLE / "forget_rnn", source / "forget_rnn")
    monkeypatch.setenv("PYTHONPATH", str(source))
    networks.refresh()
    names = ["forget_rnn.cell:ForgetRNN", "os:system", "forget_rnn"]
    if not networks.is_known("forget-rnn"):  # (where the example was pip-installed, its name is known)
        names.insert(0, "forget-rnn")
    for name in names:
        run = tmp_path / "runs" / name.replace(":", "_").replace(".", "_")
        run.mkdir(parents=True)
        config = small_config().to_dict()
        config["model"]["model"] = name
        (run / "config.json").write_text(json.dumps(config))
        result = seqtui_command("eval", str(run))
        assert result.returncode != 0 and "Traceback" not in result.stderr
        assert f"unknown model {name!r}" in result.stderr.strip().splitlines()[-1], result.stderr
    listed = seqtui_here("runs", "--root", str(tmp_path / "runs"))
    assert listed.stderr.count("unknown model") == len(names), listed.stderr
    assert "forget_rnn" not in sys.modules


def test_a_broken_package_is_one_line_not_a_crash(tmp_path, monkeypatch):
    site = tmp_path / "site"
    register(site, None, {"broken": "no_such_module:SPEC", "misnamed": "json:loads"}, name="seqtui-broken")
    use_site(site, monkeypatch)
    try:
        assert {"broken", "misnamed"} <= set(networks.names())
        for model, says in (("broken", "cannot be loaded: ModuleNotFoundError"), ("misnamed", "is not a ModelSpec")):
            result = seqtui_command("train", "--model", model, "--steps", "1", "--run-dir", str(tmp_path / model))
            assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and says in lines[0] and "seqtui-broken" in lines[0], result.stderr
        listed = seqtui_here("models")
        assert listed.returncode == 0 and "cannot be loaded" in listed.stdout, listed.stdout
    finally:
        networks.refresh()
