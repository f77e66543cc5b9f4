"""The drawing helpers under the app's charts and heatmaps, checked without a terminal."""

from __future__ import annotations

import math

import pytest

from seqtui.app.screens.train import length_map_columns
from seqtui.app.widgets.chart import Chart, Line, Note, nice_ticks, tick_label
from seqtui.app.widgets.heatmap import Heatmap


@pytest.mark.parametrize(
    "low,high,most",
    [(3968, 1_624_405, 4), (0.8, 96.1, 6), (2, 20, 4), (-2.3, 2.7, 5), (0, 1, 8), (45_824, 1_234_880, 3)],
)
def test_nice_ticks_are_round_evenly_spaced_and_inside_the_range(low, high, most):
    ticks = nice_ticks(low, high, most)
    assert 1 <= len(ticks) <= most + 1
    assert all(low - 1e-9 <= t <= high + 1e-9 for t in ticks)
    steps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:])}
    assert len(steps) <= 1
    if steps:
        step = steps.pop()
        mantissa = step / 10 ** math.floor(math.log10(step))
        assert round(mantissa, 6) in (1, 2, 2.5, 5)
        assert all(abs(t / step - round(t / step)) < 1e-6 for t in ticks)  # multiples of the step


def test_nice_ticks_of_an_empty_or_broken_range_are_none():
    assert nice_ticks(5, 5, 4) == [] and nice_ticks(float("nan"), 1, 4) == [] and nice_ticks(0, 1, 1) == []


def test_tick_labels_are_short():
    assert [tick_label(v) for v in (1_500_000, 250_000, 1_000, 35, 0.5, 2_000_000_000)] == [
        "1.5M",
        "250k",
        "1k",
        "35",
        "0.5",
        "2G",
    ]


def evaluation(examples: int, accuracy: float) -> dict:
    return {"examples": examples, "accuracy_by_length": {"2": accuracy}}


def test_length_map_columns_stand_for_even_steps_of_examples_seen():
    evaluations = [evaluation(500, 0.6), evaluation(600, 0.7), evaluation(1000, 0.9)]
    columns = length_map_columns(evaluations, 10)
    # column c covers examples up to (c + 1) * 100: none before 500, then the latest made by then
    assert [None if c is None else c["examples"] for c in columns] == [
        None,
        None,
        None,
        None,
        500,
        600,
        600,
        600,
        600,
        1000,
    ]
    # unevenly spaced evaluations (older ones thinned) still land where their examples put them
    assert length_map_columns([evaluation(1000, 0.9)], 4) == [None, None, None, evaluations[-1]]


def test_heatmap_draws_missing_values_blank_and_an_axis_of_examples():
    heatmap = Heatmap()
    heatmap.show(
        [[None, None, 0.5, 1.0] * 5, [None, 0.75, 0.5, 1.0] * 5],
        labels=["2", "4"],
        low=0.5,
        high=1.0,
        x_range=(0, 2_000_000),
        title="map",
    )
    lines = heatmap.render().plain.splitlines()
    assert lines[0] == "map"
    cells = lines[1][len("2/4 ") :]
    assert cells.startswith(" ▄▀▀")  # nothing / only the lower row / both rows
    assert lines[2].split() == ["|0", "|1M", "|2M"]
    start = len("2/4 ")  # columns are evenly spaced values 0 .. 2M: 1M is at column 9.5 -> 10
    assert [lines[2].index(t) - start for t in ("|0", "|1M", "|2M")] == [0, 10, 19]
    assert "0.50" in lines[3] and "1.00" in lines[3]
    assert heatmap.get_content_height(None, None, 80) == 1 + 1 + 1 + 1


def test_a_heatmaps_axis_and_title_never_run_past_its_width():
    from textual.geometry import Size

    class Laid(Heatmap):  # as laid out 76 columns wide
        size = property(lambda self: Size(76, 6))

    heatmap = Laid()
    heatmap.show([[0.9] * 70, [0.95] * 70], labels=["2", "4"], x_range=(0, 400_000), title="t" * 100)
    lines = heatmap.render().plain.splitlines()
    assert max(map(len, lines)) <= 76 and lines[0].endswith("…")
    assert "|400k" in lines[2] or "|300k" in lines[2]  # the last label that fits, whole


def test_a_chart_of_one_point_labels_its_x_round_and_short():
    chart = Chart("accuracy")
    chart.plot([Line([198_272.0], [0.86], "rnn")], y_range=(0.85, 1.0))
    axis = chart._build(40, 8).plain.splitlines()[-1]
    assert axis.split() == ["198.3k"]


def test_the_length_map_axis_marks_the_column_where_an_evaluation_first_shows():
    """The train screen passes x_range=(latest / columns, latest): column c stands for (c + 1) / columns."""
    evaluations = [evaluation(500, 0.6), evaluation(1000, 0.9)]
    columns = length_map_columns(evaluations, 20)
    first = next(i for i, c in enumerate(columns) if c is not None)
    heatmap = Heatmap()
    heatmap.show(
        [[None if c is None else 0.75 for c in columns]], labels=["2"], low=0.5, high=1.0, x_range=(1000 / 20, 1000)
    )
    axis = heatmap.render().plain.splitlines()[1]
    label_area = 2 * len("2") + 2  # the row labels' column ("  2 ")
    assert axis.index("|500") - label_area == first == 9


def test_a_title_wider_than_the_chart_is_shortened_not_dropped():
    chart = Chart("accuracy by length, random negatives, with a title far too long to fit")
    chart.plot([Line([1.0, 2.0], [0.5, 0.6], "rnn")])
    first = chart._build(40, 10).plain.splitlines()[0]
    assert first.strip().startswith("accuracy by length") and first.strip().endswith("…")


def test_notes_at_the_edges_of_a_chart_are_not_cut():
    chart = Chart("path")
    chart.plot(
        [Line([0.0, 1.0, 2.0], [0.0, 1.0, 0.5], "path")],
        legend=False,
        notes=[Note(0.0, 0.0, "10"), Note(1.0, 1.0, "5"), Note(2.0, 0.5, "12")],
    )
    plot = chart._build(40, 10).plain
    assert "10" in plot and "12" in plot and "5" in plot


def test_accuracy_heatmaps_colour_the_error_on_a_log_scale():
    from seqtui.app.widgets.heatmap import error_position

    heatmap = Heatmap()
    heatmap.show([[0.5, 0.9, 0.98, 0.99, 0.999, None]], accuracy=True)
    colours = [heatmap._colour(v) for v in heatmap.rows[0][:5]]
    assert len(set(colours)) == 5  # the range a user watches, 0.98 -> 0.999, is not one colour
    assert heatmap.rows[0][5] is None and error_position(0.3) == 0.0 and error_position(1.0) == 1.0
    # each tenfold fall in the error is the same step of colour
    assert error_position(0.99) - error_position(0.9) == pytest.approx(error_position(0.999) - error_position(0.99))
    assert "error 50%" in heatmap.render().plain


def test_smoothing_never_drags_a_short_history_far_behind_the_run():
    from seqtui.store.history import smooth, smoothing_weight

    short = [0.0] * 8 + [1.0] * 8  # a 10-second run's metrics lines: too few to average
    assert smooth(short, 0.9) == short
    assert smoothing_weight(0.9, 100) == pytest.approx(0.8)  # memory of 5 points out of 100
    noisy = [float(i % 2) for i in range(1000)]  # a long run: the weight asked for, and it averages
    assert smoothing_weight(0.9, 1000) == 0.9 and abs(smooth(noisy, 0.9)[-1] - 0.5) < 0.1
    step = [0.0] * 500 + [1.0] * 500
    assert smooth(step, 0.97)[-1] > 0.99  # ends where the run is
    assert smooth(short, 0.0) == short and smooth([], 0.9) == []
