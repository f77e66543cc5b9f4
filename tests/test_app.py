"""The terminal app driven by Textual's pilot, over real run directories and real trainers."""

from __future__ import annotations

import asyncio
import csv
import gc
import json
import os
import shutil
import time

import pytest
import torch
from conftest import form_ready, small_config
from textual.widgets import DataTable, Input, Static

from seqtui.app import make_app
from seqtui.app.screens.compare import CompareScreen
from seqtui.app.screens.dialogs import NewRunDialog, QuitDialog
from seqtui.app.screens.evaluate import EvaluateScreen
from seqtui.app.screens.train import TrainScreen
from seqtui.app.widgets.chart import Chart
from seqtui.app.widgets.heatmap import Heatmap
from seqtui.app.widgets.keybar import KeyBar
from seqtui.core.checkpoint import save_checkpoint
from seqtui.core.models import ModelConfig
from seqtui.core.tasks import TaskConfig
from seqtui.core.training import Budget, Trainer
from seqtui.session import launch, runner
from seqtui.session.launch import spawn, start_training
from seqtui.store.run import Run


@pytest.fixture(autouse=True)
def remembered_notifications(monkeypatch):
    """Every notification an app shows, kept in `app.said`: a toast may time out before a test on
    a busy machine looks for it."""
    from seqtui.app.app import SeqtuiApp

    notify = SeqtuiApp.notify

    def remembering(self, message, *args, **kwargs):
        self.__dict__.setdefault("said", []).append(str(message))
        return notify(self, message, *args, **kwargs)

    monkeypatch.setattr(SeqtuiApp, "notify", remembering)


form_built = form_ready  # the name these tests use


async def wait_for(pilot, condition, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def text_of(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


@pytest.fixture
def trained_run(tmp_path) -> Run:
    """A finished run, trained in this process: an LSTM that knows short patterns."""
    config = small_config(
        model=ModelConfig("lstm", 16),
        lr=1e-2,
        batch_size=64,
        budget=Budget(steps=150),
        task=TaskConfig(n_min=1, n_max=3),
    )
    run = Run.create(tmp_path / "runs" / "lstm-small", config)
    runner.train(run)
    return run


def long_config():
    return small_config(budget=Budget(steps=1_000_000), eval_every=2_000)


def test_the_form_says_each_error_under_the_field_it_is_about(tmp_path, monkeypatch):
    from seqtui.settings import limits

    async def scenario():
        app = make_app(tmp_path / "runs")
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("f3", "n")
            await wait_for(pilot, lambda: form_built(app), what="the dialog")
            dialog = app.screen
            for field, value in (("n-min", "5"), ("n-max", "3")):
                dialog.query_one(f"#f-{field}", Input).value = value
            await pilot.press("ctrl+s")  # checked as the config is built: the setting it names
            assert "larger than n_max" in str(dialog.query_one("#e-n-min").render())
            assert str(dialog.query_one("#e-n-max").render()) == ""
            dialog.query_one("#f-n-min", Input).value = "1"
            monkeypatch.setattr(limits, "available_memory", lambda: 1000)  # a machine with no room
            await pilot.press("ctrl+s")
            assert "has 1 kB available" in str(dialog.query_one("#form-error").render())
            assert str(dialog.query_one("#e-n-min").render()) == ""
            assert isinstance(app.screen, NewRunDialog) and not (tmp_path / "runs").exists()

    asyncio.run(scenario())


def test_new_run_from_the_app_trains_in_its_own_process_and_fills_the_charts(tmp_path):
    async def scenario():
        app = make_app(tmp_path / "runs")
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("f3", "n")
            await wait_for(pilot, lambda: form_built(app), what="the dialog")
            dialog = app.screen
            for field, value in (("n-max", "3"), ("hidden", "16"), ("samples", "off"), ("steps", "300"), ("lr", "x")):
                dialog.query_one(f"#f-{field}", Input).value = value
            error = dialog.query_one("#e-lr")  # checked as each field's change message arrives
            await wait_for(pilot, lambda: "not a number: 'x'" in str(error.render()), what="the field's error")
            await pilot.press("ctrl+s")
            assert isinstance(app.screen, NewRunDialog)  # refused: the value is still wrong
            dialog.query_one("#f-lr", Input).value = "0.01"
            await pilot.pause()
            await pilot.press("ctrl+s")
            await pilot.pause()
            run = app.current  # followed at once, named, while its trainer loads torch
            assert run is not None and run.path.parent == tmp_path / "runs"
            line = text_of(app, "#train-status")  # starting, or already running: its trainer was prepared
            assert run.shown_name in line and ("starting" in line and "loading torch" in line or "running" in line)
            await pilot.press("c")  # not a second trainer beside the first
            assert any("is training already" in m for m in app.said)
            await wait_for(pilot, lambda: run.path not in app.launching, what="the trainer to take the run")
            status = run.raw_status()
            assert status.pid and status.pid != os.getpid()  # a separate process
            assert len(list(run.path.parent.iterdir())) == 1
            try:  # it yields the CPU to the app when both want it
                niceness = os.getpriority(os.PRIO_PROCESS, status.pid)
            except ProcessLookupError:
                niceness = None  # already finished: nothing to compare
            assert niceness in (None, os.getpriority(os.PRIO_PROCESS, 0) + 5)
            await wait_for(pilot, lambda: run.status().state == "finished", what="the run to finish")
            await wait_for(pilot, lambda: "finished" in text_of(app, "#train-status"), what="the status line")
            screen = app.screen
            await wait_for(pilot, lambda: screen.query_one("#loss-chart", Chart).lines, what="the loss chart")
            assert screen.query_one("#acc-chart", Chart).lines
            await wait_for(
                pilot,
                lambda: len(screen.query_one("#length-map", Heatmap).rows) == 3,
                what="held-out accuracy by length",
            )
            assert "step 300" in text_of(app, "#train-status")
            # the finished trainer is reaped while the app lives: no zombie left under it
            await wait_for(pilot, lambda: not launch.STARTED, what="the trainer to be reaped")
            with open(f"/proc/{os.getpid()}/task/{os.getpid()}/children") as children:
                assert str(status.pid) not in children.read().split()

    asyncio.run(scenario())


def test_pause_resume_and_stop_reach_the_trainer(tmp_path):
    run = start_training(tmp_path / "runs" / "long", long_config())
    try:

        async def scenario():
            app = make_app(tmp_path / "runs", run.path)
            async with app.run_test(size=(100, 30)) as pilot:
                await wait_for(pilot, lambda: run.status().state == "running", what="training")
                await pilot.press("space")
                await wait_for(pilot, lambda: run.status().state == "paused", what="pause")
                await wait_for(pilot, lambda: "paused" in text_of(app, "#train-status"), what="paused shown")
                bar = app.screen.query_one(KeyBar)

                def space() -> str:
                    return next(shown.description for shown in bar.keys if shown.key == "space")

                await wait_for(pilot, lambda: space() == "Resume", what="space named Resume")
                await pilot.press("space")
                await wait_for(pilot, lambda: run.status().state == "running", what="resume")
                await wait_for(pilot, lambda: space() == "Pause", what="space named Pause again")
                await pilot.press("s")
                await wait_for(pilot, lambda: run.status().state == "stopped", what="stop")

        asyncio.run(scenario())
    finally:
        if run.is_active():
            run.request("stopped")


@pytest.mark.parametrize("choice, state", [("l", "running"), ("s", "stopped")])
def test_quitting_while_a_run_trains_asks_whether_to_leave_or_stop_it(tmp_path, choice, state):
    run = start_training(tmp_path / "runs" / "long", long_config())
    try:

        async def scenario():
            app = make_app(tmp_path / "runs", run.path)
            async with app.run_test(size=(100, 30)) as pilot:
                await pilot.press("ctrl+q")
                await wait_for(pilot, lambda: isinstance(app.screen, QuitDialog), what="the quit dialog")
                await pilot.press(choice)
                await wait_for(pilot, lambda: not app.is_running, what="the app to exit")

        asyncio.run(scenario())
        deadline = time.monotonic() + 30
        while run.status().state != state and time.monotonic() < deadline:
            time.sleep(0.05)
        assert run.status().state == state
    finally:
        if run.is_active():
            run.request("stopped")


def test_the_quit_question_goes_by_itself_once_the_run_has_ended_meanwhile(tmp_path):
    run = start_training(tmp_path / "runs" / "long", long_config())
    try:

        async def scenario():
            app = make_app(tmp_path / "runs", run.path)
            said: list = []
            leave = app.exit
            app.exit = lambda *args, message=None, **kwargs: (said.append(str(message)), leave(*args, **kwargs))
            async with app.run_test(size=(100, 30)) as pilot:
                await wait_for(pilot, lambda: run.is_active(), what="training")
                await pilot.press("ctrl+q")
                await wait_for(pilot, lambda: isinstance(app.screen, QuitDialog), what="the quit dialog")
                run.request("stopped")  # from elsewhere (seqtui stop): the question is moot
                await wait_for(pilot, lambda: not app.is_running, what="the app to exit by itself")
            return said

        said = asyncio.run(scenario())
        assert any("long is stopped: nothing was left running" in m for m in said), said
    finally:
        if run.is_active():
            run.request("stopped")


def test_reattaching_to_a_finished_run_shows_its_history(trained_run):
    async def scenario():
        app = make_app(trained_run.path.parent, trained_run.path)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: "finished" in text_of(app, "#train-status"), what="the run")
            assert app.screen.query_one("#loss-chart", Chart).lines
            await pilot.press("f2")
            table = app.screen.query_one(DataTable)
            await wait_for(pilot, lambda: table.row_count == 1, what="the runs list")
            assert "finished" in str(table.get_row_at(0))

    asyncio.run(scenario())


def test_probe_answers_valid_input_and_explains_invalid_input(trained_run):
    async def scenario():
        app = make_app(trained_run.path.parent, trained_run.path)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("f4")
            screen = app.screen
            await wait_for(pilot, lambda: screen.model is not None, what="the model")
            await pilot.press(*"3 1 3 1", "enter")
            verdict = text_of(app, "#verdict")
            assert "truly match" in verdict and "p(match) 0." in verdict
            assert ("right" in verdict) == ("verdict match" in verdict)  # judged against the truth
            heatmap = screen.query_one("#hidden-map", Heatmap)
            assert len(heatmap.rows) == 4 and len(heatmap.rows[0]) == 16  # steps x units
            sequence = screen.query_one("#sequence", Input)
            sequence.value = "12a4"  # letters cannot be typed, but they can be pasted
            await pilot.press("enter")
            assert "not a digit" in text_of(app, "#probe-error")
            assert text_of(app, "#verdict") == "" and text_of(app, "#strip") == ""  # no stale answer
            sequence.value = ""
            await pilot.press(*"123", "enter")
            assert "odd length" in text_of(app, "#probe-error")
            assert sequence.has_focus  # letter keys below reach the screen all the same
            for key, truth in (("r", "truly match"), ("h", "truly no match"), ("n", "truly no match")):
                await pilot.press(key)
                assert truth in text_of(app, "#verdict"), key
            assert sequence.cursor_position == len(sequence.value)  # r/n/h/c leave the cursor at the end
            shown = sequence.value
            await pilot.press("7")
            assert sequence.value == shown + "7"
            await pilot.press("a")  # not a key of this screen, not a digit: refused where it shows
            assert "not a digit: 'a'" in text_of(app, "#probe-error") and text_of(app, "#verdict") == ""
            assert sequence.value == shown + "7"
            await pilot.press("n")
            before = screen.digits
            await pilot.press("c")
            assert sum(a != b for a, b in zip(before, screen.digits)) == 1
            await pilot.press("x")  # the LSTM's cell state, one key away
            assert "cell state" in screen.query_one("#hidden-map", Heatmap).title
            await pilot.press("p")  # the states as a path on their first two principal components
            chart = screen.query_one("#pca-chart", Chart)
            await wait_for(pilot, lambda: chart.lines, what="the principal components")
            assert chart.display and not screen.query_one("#hidden-map").display
            assert "cell state" in chart.title and "PC1" in chart.title
            with torch.inference_mode():
                cells = torch.stack(screen.model.unroll(torch.tensor([screen.digits])).cell, dim=1)[0]
            expected = screen.projections["cell"].project(cells)
            path = chart.lines[-1]
            assert path.xs == pytest.approx(expected[:, 0].tolist(), abs=1e-5)
            assert path.ys == pytest.approx(expected[:, 1].tolist(), abs=1e-5)
            assert [line.label for line in chart.lines[:2]] == ["ends: no match", "ends: match"]
            await pilot.press("x")
            await wait_for(pilot, lambda: "hidden state" in chart.title and chart.lines, what="the hidden fit")
            await pilot.press("r")  # a new sequence is drawn as a path too
            assert len(chart.lines[-1].xs) == len(screen.digits)
            await pilot.press("p")
            await pilot.pause()
            assert not chart.display and screen.query_one("#hidden-map").display
            sequence.value = " ".join("3141592653" * 6)  # 60 digits: laid out in blocks, scrolled
            await pilot.press("enter")
            strip = text_of(app, "#strip").splitlines()
            assert max(map(len, strip)) <= 100 and sum(line.startswith("step") for line in strip) >= 2
            heatmap = screen.query_one("#hidden-map", Heatmap)
            assert len(heatmap.rows) == 60 and heatmap.labels[:2] == ["1:3", "2:1"]  # step:digit
            results = screen.query_one("#probe-results")
            await pilot.press("pagedown", "pagedown")  # typing in the field, the answer still scrolls
            await pilot.pause()
            assert results.scroll_y > 0 and sequence.has_focus

    asyncio.run(scenario())


def test_probe_refuses_a_checkpoint_with_non_finite_weights_and_says_why(tmp_path):
    """seqtui never writes such a checkpoint now; one from elsewhere is refused, not drawn."""
    config = small_config()
    run = Run.create(tmp_path / "runs" / "diverged", config)
    trainer = Trainer(config)
    with torch.no_grad():
        trainer.model.recurrent.weight_hh_l0.fill_(float("nan"))
    trainer.weights_finite = lambda: True  # as a writer that did not check would
    save_checkpoint(trainer, run.checkpoint_path)

    async def scenario():
        app = make_app(run.path.parent, run.path)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("f4")
            await wait_for(pilot, lambda: "non-finite weights" in text_of(app, "#probe-model"), what="the refusal")
            await pilot.press(*"1 2 1 2", "enter")
            assert app.screen.model is None and "no model: " in text_of(app, "#verdict")

    asyncio.run(scenario())


def test_f5_shows_three_runs_whole_at_80_columns(trained_run):
    root = trained_run.path.parent
    names = ["lstm-match-random-1130-122709", "lstm-match-random-1130-123352"]
    for name in names:
        shutil.copytree(trained_run.path, root / name)

    async def scenario():
        app = make_app(root, trained_run.path)
        async with app.run_test(size=(80, 24)) as pilot:
            app.compare = {root / name for name in names}
            await pilot.press("f5")
            screen = app.screen
            screen.query_one("#eval-samples", Input).value = "600"
            await pilot.press("e")
            table = screen.query_one("#eval-table", DataTable)
            await wait_for(pilot, lambda: table.row_count == 3, what="the results")
            await pilot.pause()
            assert len(table.columns) == 4 and table.virtual_size.width <= table.size.width  # none cut off
            assert table.region.right <= 80
            headers = [str(column.label) for column in table.columns.values()][1:]
            assert len(set(headers)) == 3  # told apart
            for selector in ("#eval-error", "#eval-runs"):  # one line each
                assert len(text_of(app, selector)) <= 78, selector

    asyncio.run(scenario())


def test_evaluation_completes_and_can_be_cancelled(trained_run):
    async def scenario():
        app = make_app(trained_run.path.parent, trained_run.path)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("f5")
            screen = app.screen
            assert not screen.query_one("#eval-progress").display  # nothing asked yet: no bar going
            samples = screen.query_one("#eval-samples", Input)
            samples.focus()  # a field chosen, then F2 and back: the screen's keys are keys again
            await pilot.press("f2", "f5", "e")
            assert samples.value == "20000" and screen.focused is None
            samples.focus()
            await pilot.press("x")  # a letter no count holds is not typed
            assert samples.value == "20000"
            screen.query_one("#eval-max-len", Input).value = "10"
            samples.value = "2000"
            await pilot.press("e")  # pressed in the field: the screen's key all the same
            assert samples.value == "2000" and screen.focused is samples
            table = screen.query_one("#eval-table", DataTable)
            await wait_for(pilot, lambda: table.row_count == 5, what="the results")
            assert screen.query_one("#eval-chart", Chart).lines
            assert "beyond training" in text_of(app, "#eval-error")
            screen.query_one("#eval-samples", Input).value = "20000000"
            await pilot.press("e")
            await pilot.pause(0.3)
            await pilot.press("escape")
            await wait_for(pilot, lambda: "cancelled" in text_of(app, "#eval-error"), what="the cancel")
            await app.workers.wait_for_complete()
            assert table.row_count == 5  # the finished evaluation's table stays, and says whose it is
            assert "below, the last one finished: lstm-small, 400 examples per length" in text_of(app, "#eval-error")
            other = Run.create(trained_run.path.parent / "other", small_config())
            app.compare.add(other.path)  # marked on the list: the runs asked for are others now
            await pilot.press("f2", "f5")
            assert "below: lstm-small, 400 examples per length; e evaluates the runs above" in text_of(
                app, "#eval-error"
            )

    asyncio.run(scenario())


def test_a_terminal_below_the_minimum_says_so(tmp_path):
    async def scenario():
        app = make_app(tmp_path / "runs")
        async with app.run_test(size=(60, 20)) as pilot:
            await pilot.pause()
            assert "terminal too small" in text_of(app, "#too-small")
            assert app.screen.has_class("-too-small")

    asyncio.run(scenario())


def test_every_screen_action_is_in_the_command_palette(trained_run):
    async def scenario():
        app = make_app(trained_run.path.parent, trained_run.path)
        async with app.run_test(size=(100, 30)) as pilot:
            for key in ("f3", "f4", "f5", "f2"):
                await pilot.press(key)
                screen = app.screen
                titles = {command.title for command in app.get_system_commands(screen)}
                wanted = {b.description for b in screen.BINDINGS if b.show and not b.action.startswith("app.")}
                assert wanted <= titles, wanted - titles
                assert {"Go to Runs", "Go to Train", "Go to Probe", "Go to Evaluate"} <= titles
            await pilot.press("ctrl+p")
            await pilot.press(*"go to probe", "enter")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "ProbeScreen", what="the palette")
            await pilot.press("f1")  # the keys of the screen, beside it
            await wait_for(pilot, lambda: app.screen.query("HelpPanel"), what="the help panel")
            await pilot.press("f1")
            await wait_for(pilot, lambda: not app.screen.query("HelpPanel"), what="the help panel to go")
            await pilot.press("ctrl+p")
            await pilot.press(*"help", "enter")  # the palette finds it by that word
            await wait_for(pilot, lambda: app.screen.query("HelpPanel"), what="help from the palette")

    asyncio.run(scenario())


def test_train_screen_reads_values_at_any_point_of_the_history(trained_run):
    async def scenario():
        app = make_app(trained_run.path.parent, trained_run.path)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: "finished" in text_of(app, "#train-status"), what="the run")
            assert "best" in text_of(app, "#train-values")
            await pilot.press("left", "left")
            reading = text_of(app, "#train-values")
            assert reading.startswith(" at ") and "loss 0." in reading and "smoothed" in reading
            assert app.screen.query_one("#loss-chart", Chart).vertical  # the point is marked
            await pilot.press("end")
            assert "best" in text_of(app, "#train-values")
            assert not app.screen.query_one("#loss-chart", Chart).vertical

    asyncio.run(scenario())


def test_gradients_screen_shows_the_flow_and_its_history(trained_run):
    async def scenario():
        app = make_app(trained_run.path.parent, trained_run.path)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("f6")
            await wait_for(
                pilot, lambda: "gradient flow at step 150" in text_of(app, "#gradients-status"), what="the measurement"
            )
            ratios = text_of(app, "#gradients-ratios")
            assert all(f"{n}: " in ratios for n in (2, 4, 6))
            flow = app.screen.query_one("#flow-chart", Chart)
            assert flow.log_y and [len(line.xs) for line in flow.lines] == [6, 4, 2]
            assert app.screen.query_one("#ratio-chart", Chart).lines

    asyncio.run(scenario())


def test_the_gradients_header_keeps_one_line_at_80_columns(trained_run):
    long = trained_run.path.rename(trained_run.path.parent / "lstm-match-random-1130-121938-a-long-name")

    async def scenario():
        app = make_app(long.parent, long)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("f6")
            await wait_for(pilot, lambda: "gradient flow at step" in text_of(app, "#gradients-status"), what="it")
            header = text_of(app, "#gradients-status")
            assert "\n" not in header and len(header) <= 78 and header.endswith("■ 2"), header

    asyncio.run(scenario())


def test_export_and_screenshot_keys(trained_run):
    async def scenario():
        app = make_app(trained_run.path.parent, trained_run.path)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: "finished" in text_of(app, "#train-status"), what="the run")
            await pilot.press("x")
            rows = (trained_run.path / "export" / "train.csv").read_text().splitlines()
            assert rows[0].startswith("step,examples") and len(rows) > 1
            assert "accuracy_6" in (trained_run.path / "export" / "evals.csv").read_text()
            await pilot.press("f12")
            shots = list((trained_run.path.parent / "screenshots").glob("*.svg"))
            assert len(shots) == 1 and "<svg" in shots[0].read_text()[:200]

    asyncio.run(scenario())


def test_compare_key_starts_a_comparison_and_the_compare_screen_follows_it(tmp_path, monkeypatch):
    started = []

    def spawn_small(args, log):  # the real detached `seqtui compare`, on a tiny budget
        started.append((args, log))
        process = spawn(args + ["--n-max", "2", "--steps", "30", "--models", "rnn,lstm", "--eval-samples", "300"], log)
        processes.append(process)
        return process

    processes = []

    monkeypatch.setattr("seqtui.app.screens.runs.spawn", spawn_small)
    root = tmp_path / "runs"

    async def scenario():
        app = make_app(root)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("C")
            await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen), what="the compare screen")
            screen = app.screen
            ((args, log),) = started
            stamp = args[args.index("--name") + 1]
            assert args[:3] == ["compare", "--root", str(root)] and log.parent == root
            assert app.compare_group == stamp
            await pilot.press("ctrl+q")  # four models train in the background: asked, not quit
            await wait_for(pilot, lambda: isinstance(app.screen, QuitDialog), what="the question")
            assert f"comparison {stamp}" in str(app.screen.query_one(".dialog-title").render())
            await pilot.press("escape")
            table = screen.query_one("#compare-table", DataTable)
            await wait_for(
                pilot,
                lambda: table.row_count == 2 and "report" in text_of(app, "#compare-runs"),
                timeout=120,
                what="both runs and the report",
            )
            loss, acc = screen.query_one("#compare-loss", Chart), screen.query_one("#compare-acc", Chart)
            names = [f"cmp-{stamp}/rnn", f"cmp-{stamp}/lstm"]  # a comparison is a sweep: its runs are trials
            # in a comparison, lines and rows are named by model; the status line names the comparison
            assert [line.label for line in loss.lines] == [line.label for line in acc.lines] == ["rnn", "lstm"]
            assert stamp in text_of(app, "#compare-runs")
            assert all("finished" in str(table.get_row_at(i)) for i in range(2))
            # the held-out curve is the worst length of every evaluation the run logged
            evals = [r for r in Run(root / names[1]).read_metrics() if r["kind"] == "eval"]
            assert acc.lines[1].ys == [r["worst"] for r in evals] and loss.x_label == "examples"
            await pilot.press("a", "a")  # training accuracy, then the report's accuracy by length
            report = list(csv.DictReader(open(root / f"cmp-{stamp}" / "report.csv")))
            assert "random negatives" in acc.title and acc.vertical == [4]  # the training range ends at 4
            assert acc.lines[1].xs == [2, 4, 6, 8, 10, 12, 14]  # past the training range too
            assert acc.lines[1].ys == [float(report[1][f"random_{n}"]) for n in acc.lines[1].xs]
            await pilot.press("a")
            assert "hard negatives" in acc.title
            assert acc.lines[0].ys == [float(report[0][f"hard_{n}"]) for n in acc.lines[0].xs]
            await pilot.press("a")
            assert acc.title == "held-out accuracy, worst length"
            await pilot.press("t")
            clock = screen.followers[root / names[0]].history.clock.points()[1]
            assert (
                loss.x_label == "seconds"
                and loss.lines[0].xs == clock
                and 0 < max(clock) <= Run(root / names[0]).status().elapsed
            )
            await pilot.press("e")  # accuracy by length for the same runs
            await wait_for(pilot, lambda: isinstance(app.screen, EvaluateScreen), what="the evaluate screen")
            assert {run.name for run in app.screen.runs()} == set(names)
            # opening a run ends following the comparison; marked runs are compared with it
            app.open_run(Run(root / names[0]))
            app.compare = {trained.path}
            await pilot.press("f7")
            await wait_for(pilot, lambda: "2 runs" in text_of(app, "#compare-runs"), what="the marked runs")
            assert [line.label for line in app.screen.query_one("#compare-loss", Chart).lines] == [
                names[0],
                trained.name,
            ]

    trained = Run.create(root / "rnn-marked", small_config())
    runner.train(trained)
    try:
        asyncio.run(scenario())
    finally:  # a failed check must not leave the comparison training in the background
        for process in processes:
            if process.poll() is None:
                process.terminate()
            process.wait()


def test_f7s_table_is_whole_at_80_columns_with_long_run_names(trained_run):
    from textual.widgets import DataTable

    root = trained_run.path.parent
    names = [f"{word}-lstm-match-random-1130-12{seed}709" for seed, word in enumerate(("one", "two", "three"))]
    for name in names:
        shutil.copytree(trained_run.path, root / name)
        status = json.loads((root / name / "status.json").read_text())  # an hour's run: wide columns
        status.update(elapsed=3725.0, examples=450_000_000)
        (root / name / "status.json").write_text(json.dumps(status))

    async def scenario():
        app = make_app(root, root / names[0])
        async with app.run_test(size=(80, 24)) as pilot:
            app.compare = {root / name for name in names[1:]}
            await pilot.press("f7")
            await wait_for(pilot, lambda: "3 runs" in text_of(app, "#compare-runs"), what="the marked runs")
            table = app.screen.query_one("#compare-table", DataTable)
            await wait_for(pilot, lambda: table.row_count == 3, what="the table")
            await pilot.pause()
            assert table.virtual_size.width <= table.size.width  # every column on screen, none scrolled to
            labels = [str(table.get_row_at(i)[0]) for i in range(3)]
            assert sorted(label[-6:] for label in labels) == ["120709", "121709", "122709"]  # told apart

    asyncio.run(scenario())


def test_a_comparison_that_fails_in_the_background_says_why_on_the_compare_screen(tmp_path, monkeypatch):
    monkeypatch.setattr(
        "seqtui.app.screens.runs.spawn", lambda args, log: spawn(args + ["--models", "rnn,transformer"], log)
    )

    async def scenario():
        app = make_app(tmp_path / "runs")
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("C")
            await wait_for(
                pilot,
                lambda: "unknown model 'transformer'" in text_of(app, "#compare-runs"),
                timeout=60,
                what="the error from the comparison's log",
            )
            assert "compare-" in text_of(app, "#compare-runs")  # where the whole log is

    asyncio.run(scenario())


def test_a_screen_hidden_while_its_run_was_rewritten_shows_the_new_log_whole(trained_run):
    """A resume replaces metrics.jsonl (dropping redone steps); a screen that was not shown meanwhile
    must not keep the old lines nor skip the new ones, whatever the new file's length."""
    records = trained_run.read_metrics()
    train = [r for r in records if r["kind"] == "train"]

    async def scenario():
        app = make_app(trained_run.path.parent, trained_run.path)
        async with app.run_test(size=(100, 30)) as pilot:
            screen = app.screen
            await wait_for(pilot, lambda: screen.follower.history.last_train is not None, what="the history")
            await pilot.press("f2")
            # what a resume from an early checkpoint and further training leave: a new, longer file
            kept = [r for r in records if r["step"] <= 40]
            grown = [dict(r, step=r["step"] + 1000, examples=r["examples"] + 64_000) for r in train] * 3
            trained_run.write_metrics(kept + grown)
            follower = app.followers[trained_run.path]
            await wait_for(pilot, lambda: follower.reader.restarts == 1, what="the rewrite to be noticed")
            xs = follower.history.loss.points()[0]
            expected = [r["examples"] for r in kept + grown if r["kind"] == "train"]
            assert len(follower.history.loss) == len(expected) and xs == [float(x) for x in expected]
            await pilot.press("f3")
            chart = app.screen.query_one("#loss-chart", Chart)
            await wait_for(pilot, lambda: chart.lines and chart.lines[0].xs == xs, what="the chart redrawn")

    asyncio.run(scenario())


def test_the_train_accuracy_chart_says_when_it_is_over_short_sequences_only(trained_run):
    """While a curriculum grows, the training accuracy is over the lengths drawn so far."""
    records = trained_run.read_metrics()
    train = [r for r in records if r["kind"] == "train"]
    early = [dict(r, longest=4) for r in train]  # n_max 3: sequences up to 6

    async def scenario():
        trained_run.write_metrics(early)
        app = make_app(trained_run.path.parent, trained_run.path)
        async with app.run_test(size=(80, 24)) as pilot:
            chart = app.screen.query_one("#acc-chart", Chart)
            await wait_for(pilot, lambda: chart.title == "train accuracy, lengths ≤ 4", what="the short lengths")
            later = dict(train[-1], step=train[-1]["step"] + 1, longest=6)
            trained_run.write_metrics([*early, later])
            await wait_for(pilot, lambda: chart.title == "train accuracy", what="every length")

    asyncio.run(scenario())


def test_smoothing_over_few_points_is_lighter_and_says_so(trained_run):
    train = [r for r in trained_run.read_metrics() if r["kind"] == "train"][:1]
    forty = [dict(train[0], step=i + 1, examples=64 * (i + 1)) for i in range(40)]  # a short run's lines

    async def scenario():
        trained_run.write_metrics(forty)
        app = make_app(trained_run.path.parent, trained_run.path)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: len(app.screen.follower.history.loss) == 40, what="the history")
            await pilot.press("m")  # 0.9 -> 0.97: over 40 points at most 1 - 20/40
            await wait_for(pilot, lambda: "smoothing 0.5" in text_of(app, "#train-values"), what="the weight used")
            assert any("0.97 asked; 0.5 used" in m for m in app.said)

    asyncio.run(scenario())


def test_the_compare_screen_shows_a_report_as_soon_as_it_is_written(tmp_path):
    from seqtui.store.files import write_json_atomic
    from seqtui.sweep.manifest import Manifest, write_manifest
    from seqtui.sweep.spec import SweepSpec
    from seqtui.sweep.trial import Measurement

    root = tmp_path / "runs"
    spec = SweepSpec.build("cmp-live", {"model": ["rnn", "lstm"]}, kind="comparison")
    write_manifest(root / "cmp-live", Manifest(spec.name, spec, {}))  # makes the directory
    for model in ("rnn", "lstm"):
        run = Run.create(root / "cmp-live" / model, small_config(model=ModelConfig(model, 8)))
        runner.train(run)

    async def scenario():
        app = make_app(root, root / "cmp-live" / "lstm")
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("f7")
            await wait_for(pilot, lambda: "comparison live" in text_of(app, "#compare-runs"), what="the screen")
            assert "report" not in text_of(app, "#compare-runs")
            for model in ("rnn", "lstm"):  # each model measured, as `seqtui trial` leaves it
                measured = Measurement(
                    40, 1280, 1.0, 300, 3, {2: 0.9, 4: 0.9, 6: 0.8}, {2: 0.8, 4: 0.8, 6: 0.7}, 0.1, {}, {}
                )
                write_json_atomic(root / "cmp-live" / model / "heldout.json", measured.to_dict())
            (root / "cmp-live" / "report.md").write_text("# Comparison live\n")
            # no key pressed: the app's follower of the comparison notices the report
            await wait_for(
                pilot,
                lambda: "report: cmp-live/report.md" in text_of(app, "#compare-runs"),
                timeout=10,
                what="the report",
            )
            await pilot.press("a", "a")
            assert "random negatives" in app.screen.query_one("#compare-acc", Chart).title

    asyncio.run(scenario())


def test_the_app_survives_damaged_runs_and_deletes_a_link_without_its_target(tmp_path, trained_run):
    root = trained_run.path.parent
    (root / "link").symlink_to(trained_run.path)
    broken = root / "broken-config"
    shutil.copytree(trained_run.path, broken)
    (broken / "config.json").write_text("{not json")
    truncated = root / "truncated"
    shutil.copytree(trained_run.path, truncated)
    checkpoint = truncated / "checkpoint.safetensors"
    checkpoint.write_bytes(checkpoint.read_bytes()[:300])
    evil = root / "evil\x1b[31mred"
    shutil.copytree(trained_run.path, evil)

    async def scenario():
        app = make_app(root)
        async with app.run_test(size=(100, 30)) as pilot:
            table = app.screen.query_one(DataTable)
            await wait_for(pilot, lambda: table.row_count == 5, what="every run listed")
            cells = [str(table.get_row_at(i)) for i in range(5)]
            assert not any("\x1b" in c for c in cells) and any("evil?[31mred" in c for c in cells)
            assert "damaged" in text_of(app, "#runs-title")
            # the probe and the evaluation of a run whose checkpoint is cut short say so and end
            app.open_run(Run(trained_run.path), "probe")
            await wait_for(pilot, lambda: app.screen.model is not None, what="the good model")
            app.open_run(Run(truncated), "probe")
            await wait_for(
                pilot, lambda: "not a readable checkpoint" in text_of(app, "#probe-model"), what="the probe's refusal"
            )
            assert app.screen.model is None  # not the previous run's model
            await pilot.press("f5")
            app.screen.query_one("#eval-samples", Input).value = "500"
            await pilot.press("e")
            await wait_for(
                pilot,
                lambda: "not a readable checkpoint" in text_of(app, "#eval-error"),
                what="the evaluation's refusal",
            )
            bar = app.screen.query_one("#eval-progress")
            assert bar.total == 100 and bar.progress == 0  # not an endless spinner
            said = app.delete_run(Run(root / "link"))
            assert "kept" in said and not (root / "link").exists() and trained_run.path.is_dir()

    asyncio.run(scenario())


def test_the_sweep_screen_maps_trials_as_they_are_measured_and_opens_one(tmp_path):
    from seqtui.app.screens.sweep import SweepScreen, cell_style
    from seqtui.sweep.manifest import Manifest, TrialRecord, write_manifest
    from seqtui.sweep.spec import SweepSpec
    from seqtui.sweep.trial import measure_trial

    root = tmp_path / "runs"
    spec = SweepSpec.build("mem", {"model": ["rnn", "lstm"], "hidden": [8, 16], "n-max": 2})
    trials = spec.trials()
    records = {t.name: TrialRecord(t.name, dict(t.values)) for t in trials}
    write_manifest(root / "mem", Manifest("mem", spec, records))
    runs = {}
    for trial in trials[:2]:  # rnn-h8, rnn-h16 trained and measured; the lstm trials not started
        run = Run.create(root / "mem" / trial.name, small_config(model=ModelConfig("rnn", trial.values["hidden"])))
        runner.train(run)
        records[trial.name].state = "finished"
        runs[trial.name] = run
    measure_trial(runs["rnn-h8"], 300)
    write_manifest(root / "mem", Manifest("mem", spec, records))

    async def scenario():
        app = make_app(root)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("f8")
            await wait_for(pilot, lambda: isinstance(app.screen, SweepScreen), what="the sweep screen")
            await wait_for(pilot, lambda: "sweep mem" in text_of(app, "#sweep-status"), what="the sweep")
            assert "F8 Sweeps" in text_of(app, "#nav")  # every screen's key fits in 80 columns
            shown = text_of(app, "#sweep-map")
            assert "rnn" in shown and "lstm" not in shown and "    8 " in shown and "   16 " not in shown
            table = app.screen.query_one("#sweep-trials", DataTable)
            assert table.row_count == 4
            measure_trial(runs["rnn-h16"], 300)  # a trial measured while the screen is shown
            await wait_for(pilot, lambda: "   16 " in text_of(app, "#sweep-map"), timeout=10, what="the new row")
            table.move_cursor(row=1)
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.current is not None, what="the trial opened")
            assert app.current.path == runs["rnn-h16"].path and app.current.name == "mem/rnn-h16"

    asyncio.run(scenario())
    # the colour scale tells apart the accuracies a user watches
    assert len({cell_style(a).bgcolor for a in (0.5, 0.9, 0.98, 0.99, 0.999)}) == 5


def test_every_screen_shows_quit_in_its_footer_at_80_columns(trained_run):
    async def scenario():
        app = make_app(trained_run.path.parent, trained_run.path)
        async with app.run_test(size=(80, 24)) as pilot:
            for key in ("f2", "f3", "f4", "f5", "f6", "f7", "f8"):
                await pilot.press(key)
                await pilot.pause()
                bar = app.screen.query_one(KeyBar)
                _, spans = bar.line(bar.size.width)
                assert spans[0][2].description == "Quit" and spans[0][1] <= 80, key  # first, and on screen
                assert spans[-1][2].key == "ctrl+p" and spans[-1][1] == 80, key  # the palette at the right end
                if key == "f2":  # the list's Enter is named (a plain table's own Enter hid it)
                    assert ("enter", "Open") in [(shown.key, shown.description) for _, _, shown in spans]

    asyncio.run(scenario())


def test_a_screen_shown_the_first_time_parses_no_stylesheet_again_and_a_theme_still_reaches_it(tmp_path):
    async def scenario():
        app = make_app(tmp_path / "runs")
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            reparsed = []
            real = app.stylesheet.reparse
            app.stylesheet.reparse = lambda: (reparsed.append(app.screen), real())[1]
            for key in ("f3", "f6", "f7", "f8", "f2"):
                await pilot.press(key)
                await pilot.pause()
            assert reparsed == []  # each was ~0.1 s on a 2-core box: a whole parse and restyle
            nav = app.screen.query_one("#nav")
            dark = nav.styles.background
            app.theme = "textual-light"
            await pilot.pause()
            await pilot.press("f3")
            await pilot.pause()
            assert reparsed and app.screen.query_one("#nav").styles.background != dark  # the new theme's colours

    asyncio.run(scenario())


def test_a_screen_switch_paints_the_screen_whole_in_its_first_frame_and_tells_it_once(tmp_path, monkeypatch):
    """Frames are held while a screen is switched to (Textual held them a fixed 50 ms) only until
    the screen has been built, told it is shown and has read its keys: the first frame let through
    is the screen whole, and a screen shown the first time is told so once (Textual told it twice)."""
    from textual.screen import Screen

    resumed: list[Screen] = []
    real_resume = Screen._on_screen_resume

    def resume(self, event):
        resumed.append(self)
        return real_resume(self, event)

    monkeypatch.setattr(Screen, "_on_screen_resume", resume)

    async def scenario():
        app = make_app(tmp_path / "runs")
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            painted: list[tuple[Screen, tuple, int]] = []  # what each frame let through showed
            real_display = app._display

            def display(screen, renderable):
                if renderable is not None and not app._batch_count:
                    bar = screen.query_one(KeyBar)
                    tables = [table.size.height for table in screen.query(DataTable)]
                    painted.append((screen, bar.keys, min(tables, default=1)))
                return real_display(screen, renderable)

            app._display = display
            resumed.clear()
            app.build_mode("sweep")  # built, not shown: mounted and not told it is shown
            await pilot.pause()
            built = app._screen_stacks["sweep"][0]
            assert built.is_mounted and built.query(KeyBar) and app.screen.MODE == "runs"
            assert resumed == []
            for key in ("f3", "f6", "f7", "f8", "f2", "f7", "f3"):
                painted.clear()
                resumed.clear()
                await pilot.press(key)
                await pilot.pause()
                screen, keys, table_height = painted[0]
                assert screen is app.screen, key
                assert keys and keys[0].description == "Quit", key  # the keys line drawn in the first frame
                assert table_height > 0, key  # F7's table measured (it does so when it has nothing else to do)
                assert resumed == [app.screen], key
                assert app._batch_count == 0, key  # nothing held after it
            assert app._screen_stacks["sweep"] == [built]  # shown as built

    asyncio.run(scenario())


def test_the_screens_that_need_no_torch_are_built_hidden_after_start_and_shown_as_built(tmp_path, monkeypatch):
    from textual.screen import Screen

    from seqtui.app.app import SeqtuiApp

    resumed: list[str] = []
    real_resume = Screen._on_screen_resume

    def resume(self, event):
        resumed.append(getattr(self, "MODE", ""))
        return real_resume(self, event)

    monkeypatch.setattr(Screen, "_on_screen_resume", resume)
    monkeypatch.setattr(SeqtuiApp, "BUILD_AHEAD_SECONDS", 0.05)

    async def scenario():
        app = make_app(tmp_path / "runs")
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: all(mode in app._screen_stacks for mode in app.BUILT_AHEAD), 20, "built")
            await pilot.pause()
            assert app.screen.MODE == "runs" and set(resumed) <= {"", "runs"}  # none was told it is shown
            built = {mode: app._screen_stacks[mode][0] for mode in app.BUILT_AHEAD}
            assert all(screen.query(KeyBar) for screen in built.values())  # composed and mounted
            assert "probe" not in app._screen_stacks and "evaluate" not in app._screen_stacks  # they need torch
            for key, mode in (("f3", "train"), ("f6", "gradients"), ("f7", "compare"), ("f8", "sweep")):
                await pilot.press(key)
                await pilot.pause()
                assert app.screen is built[mode] and resumed[-1] == mode

    asyncio.run(scenario())


def test_a_screen_built_ahead_follows_the_open_run_but_catches_up_only_when_shown(trained_run, monkeypatch):
    from seqtui.app.app import SeqtuiApp

    monkeypatch.setattr(SeqtuiApp, "BUILD_AHEAD_SECONDS", 0.05)

    async def scenario():
        app = make_app(trained_run.path.parent, trained_run.path)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: all(mode in app._screen_stacks for mode in app.BUILT_AHEAD), 20, "built")
            await pilot.pause()
            gradients = app._screen_stacks["gradients"][0]
            assert gradients.follower is not None and gradients.follower.run.path == trained_run.path
            assert gradients.seen == -1 and gradients.dirty  # nothing drawn while hidden
            await pilot.press("f6")
            await pilot.pause()
            assert app.screen is gradients and gradients.seen == gradients.follower.version and not gradients.dirty

    asyncio.run(scenario())


def test_the_keys_line_draws_whole_keys_and_a_click_presses_one(tmp_path):
    async def scenario():
        app = make_app(tmp_path / "runs")
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("f3")
            await pilot.pause()
            bar = app.screen.query_one(KeyBar)
            line, spans = bar.line(80)
            assert line.cell_len == 80 and line.plain.endswith("▏^p palette")
            for start, end, shown in spans[:-1]:  # each key where it says it is
                assert line.plain[start:end] == f"{shown.display} {shown.description}"
            narrow, kept = bar.line(40)  # the first keys that fit, whole; the palette kept
            assert narrow.cell_len == 40 and narrow.plain.endswith("▏^p palette")
            assert 1 <= len(kept) - 1 < len(spans) - 1
            assert [s for _, _, s in kept[:-1]] == [s for _, _, s in spans[: len(kept) - 1]]
            assert not [w for w in narrow.plain.split() if w not in line.plain.split()]  # no word cut
            start = next(start for start, _, shown in spans if shown.description == "New")
            await pilot.click(KeyBar, offset=(start, 0))
            await wait_for(pilot, lambda: form_built(app), what="the new-run form")
            prepared.append(app.prepared)

    prepared = []
    asyncio.run(scenario())
    # the trainer prepared while the form was open ended with the app, not left loading torch
    assert prepared[0] is not None and prepared[0].process.poll() is not None


def test_continuing_a_finished_run_says_so_at_once_and_read_only_refuses(trained_run):
    async def scenario():
        app = make_app(trained_run.path.parent, trained_run.path, read_only=True)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: "finished" in text_of(app, "#train-status"), what="the run")
            # read-only: what would change a run or write a file is neither in the footer nor taken
            shown = {b.binding.action for b in app.screen.active_bindings.values() if b.binding.show}
            assert "log_scale" in shown and not shown & {"continue_run", "new_run", "stop", "pause_resume", "export"}
            assert not [c for c in app.get_system_commands(app.screen) if c.title in ("Continue", "New", "Export")]
            files = sorted(p.name for p in trained_run.path.iterdir())
            for key in ("c", "n", "s", "x", "space"):
                await pilot.press(key)
            assert isinstance(app.screen, TrainScreen) and sorted(p.name for p in trained_run.path.iterdir()) == files
            await pilot.press("f2")
            shown = {b.binding.action for b in app.screen.active_bindings.values() if b.binding.show}
            assert "mark" in shown and not shown & {"compare_models", "new_run", "stop", "delete"}
            await pilot.press("f3")
            app.read_only = False
            await pilot.press("c")  # the trainer takes seconds to start: the app says so at once
            assert any(m.startswith("starting lstm-small for") for m in app.said)
            await wait_for(pilot, lambda: trained_run.status().step > 150, timeout=120, what="the continued run")
            await wait_for(pilot, lambda: not trained_run.status().active, timeout=120, what="it to finish")

    asyncio.run(scenario())


def test_the_runs_list_moves_by_home_and_end_and_keeps_the_keys_after_other_screens(tmp_path, trained_run):
    for name in ("b-run", "c-run"):
        Run.create(tmp_path / "runs" / name, small_config())

    async def scenario():
        app = make_app(trained_run.path.parent)
        async with app.run_test(size=(100, 30)) as pilot:
            table = app.screen.query_one(DataTable)
            await wait_for(pilot, lambda: table.row_count == 3, what="the runs")
            await pilot.press("end")
            assert table.cursor_row == 2
            await pilot.press("home")
            assert table.cursor_row == 0
            await pilot.press("f4", "f2")  # away and back: the list has the keys again
            await pilot.pause()
            assert app.screen.focused is table
            await pilot.press("down")
            assert table.cursor_row == 1

    asyncio.run(scenario())


def test_the_new_run_form_opens_on_its_first_field_and_keeps_its_buttons_and_the_footer_in_view(tmp_path):
    from textual.widgets import Button, Select

    async def scenario():
        app = make_app(tmp_path / "runs")
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("f3", "n", "n")  # a word at once; a second n while it builds opens it once
            assert any("opening the new-run form" in m for m in app.said)
            await wait_for(pilot, lambda: form_built(app), what="the dialog")
            form = app.screen
            assert sum(isinstance(s, NewRunDialog) for s in app.screen_stack) == 1
            preset = form.query_one("#f-preset", Select)
            assert form.focused is preset
            await pilot.press("enter")  # the list opens from the keyboard
            await wait_for(pilot, lambda: preset.expanded, what="the preset list")
            await pilot.press("escape")
            start = form.query_one("#start", Button)
            assert start.region.bottom <= 23  # above the footer, on screen
            dialog = form.query_one(".dialog")
            assert dialog.region.bottom <= 23  # the footer's row stays clear
            form.query_one("#f-hidden", Input).value = "7"
            await pilot.press("escape", "n")  # built once: shown again as it was left, at once
            await wait_for(pilot, lambda: form_built(app), what="the dialog again")
            assert app.screen is form and form.query_one("#f-hidden", Input).value == "7"

    asyncio.run(scenario())


def test_a_screen_that_needs_torch_says_so_at_once_and_opens_when_it_is_loaded(trained_run, monkeypatch):
    async def scenario():
        app = make_app(trained_run.path.parent)
        loaded = {"torch": False}
        monkeypatch.setattr(app, "torch_loaded", lambda: loaded["torch"])
        frozen: list[str] = []  # what was shown when the collector's objects were frozen
        monkeypatch.setattr(gc, "freeze", lambda: frozen.append(type(app.screen).__name__))
        async with app.run_test(size=(100, 30)) as pilot:
            frozen.clear()  # the app's own, at start-up
            await pilot.press("f4")
            assert any("loading torch for the probe" in m for m in app.said)
            loaded["torch"] = True  # as it is once the background import is done
            await wait_for(pilot, lambda: type(app.screen).__name__ == "ProbeScreen", what="the probe screen")
            # torch's objects frozen once it was loaded, before the screen opened: a full collection
            # through them all took ~0.1 s, and fell within the screen's first showing
            # (here torch_loaded says no until told, so the background load is asked again meanwhile)
            assert frozen and set(frozen) == {"RunsScreen"}
            assert not [n for n in app._notifications if "loading torch" in n.message]  # no longer true: gone
            # the other screen that needs torch is built now, hidden, so that its first showing is quick
            await wait_for(pilot, lambda: "evaluate" in app._screen_stacks, what="evaluation built ahead")
            assert type(app.screen).__name__ == "ProbeScreen"
            await pilot.press("f2")
            assert type(app.screen).__name__ == "RunsScreen"  # a screen without torch: at once

    asyncio.run(scenario())


def test_keys_from_the_runs_list_answer_and_lead_back_where_they_came_from(tmp_path, trained_run):
    """n on the list: the form over the list, and esc back to it; s on a finished run says why it
    does nothing; esc hides the keys panel; two runs whose names differ only at the end stay apart
    at 80 columns; F8's trials take Down at once."""
    from seqtui.app.screens.runs import RunsScreen

    for stamp in ("121938", "122709"):
        Run.create(tmp_path / "runs" / f"lstm-match-random-1130-{stamp}", small_config())

    async def scenario():
        app = make_app(trained_run.path.parent)
        async with app.run_test(size=(80, 24)) as pilot:
            table = app.screen.query_one(DataTable)
            await wait_for(pilot, lambda: table.row_count == 3, what="the runs")
            names = {str(table.get_row_at(i)[0]) for i in range(3)}
            assert len(names) == 3 and any(n.endswith("121938") for n in names), names
            await pilot.press("n")
            await wait_for(pilot, lambda: form_built(app), what="the dialog")
            assert isinstance(app.screen_stack[-2], RunsScreen)  # over the list
            await pilot.press("escape")
            assert isinstance(app.screen, RunsScreen)
            table.move_cursor(row=[str(table.get_row_at(i)[0]) for i in range(3)].index("lstm-small"))
            await pilot.press("s")
            assert any("is finished: nothing to stop" in m for m in app.said)
            await pilot.press("f1")
            assert app.screen.query("HelpPanel")
            await pilot.press("escape")
            await pilot.pause()
            assert not app.screen.query("HelpPanel")
            await pilot.press("f8")
            assert app.screen.focused is app.screen.query_one("#sweep-trials", DataTable)

    asyncio.run(scenario())


def test_the_probe_takes_question_mark_for_help_and_forgets_an_error_once_typing_resumes(trained_run):
    async def scenario():
        app = make_app(trained_run.path.parent, trained_run.path)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("f4")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "ProbeScreen", what="the probe")
            await pilot.press("question_mark")
            assert app.screen.query("HelpPanel") and text_of(app, "#probe-error") == ""
            await pilot.press("f1", "%")
            assert "not a digit: '%'" in text_of(app, "#probe-error")
            await pilot.press("1")
            assert text_of(app, "#probe-error") == ""

    asyncio.run(scenario())


def test_the_train_header_and_the_heatmap_speak_of_the_same_evaluation(tmp_path):
    """A new held-out evaluation is drawn in the heatmap as soon as the header shows its figure,
    even within the charts' one-redraw-a-second pace."""
    import re

    run = Run.create(tmp_path / "runs" / "evals", small_config())

    async def scenario():
        app = make_app(tmp_path / "runs", run.path)
        async with app.run_test(size=(100, 30)) as pilot:
            for step, worst in ((10, 0.61), (20, 0.72), (30, 0.83)):  # faster than the charts redraw
                by_length = {"2": 1.0, "4": worst + 0.01, "6": worst}
                run.append_metrics(
                    {"kind": "eval", "step": step, "examples": step * 32, "elapsed": step / 100}
                    | {"accuracy": worst + 0.02, "worst": worst, "accuracy_by_length": by_length}
                )
                await wait_for(pilot, lambda w=worst: f"worst length {w:.4f}" in text_of(app, "#train-status"))
                title = str(app.screen.query_one("#length-map").render())
                shown = re.search(r"worst (0\.\d{4}) at length", title)
                assert shown and shown.group(1) == f"{worst:.4f}", title

    asyncio.run(scenario())
