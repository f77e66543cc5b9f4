"""The principal-component projection of hidden states that the probe screen draws paths on."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqtui.core.models import ModelConfig, build_model
from seqtui.core.projection import FIT_SEED, fit_projection
from seqtui.core.tasks import TaskConfig, make_batch
from seqtui.settings.errors import SeqtuiError


def states_of(model, task, per_length, state="hidden"):
    """The states the fit should see: every step of the same held-out sequences, rebuilt here."""
    generator = torch.Generator().manual_seed(FIT_SEED)
    rows = []
    with torch.inference_mode():
        for n in range(task.n_min, task.n_max + 1):
            unrolled = model.unroll(make_batch(task, n, per_length, generator).digits)
            states = unrolled.hidden if state == "hidden" else unrolled.cell
            rows.append(torch.stack(states, dim=1).reshape(-1, model.config.hidden))
    return torch.cat(rows).double().numpy()


@pytest.mark.parametrize("kind,state", [("rnn", "hidden"), ("lstm", "hidden"), ("lstm", "cell"), ("gru", "hidden")])
def test_components_are_the_top_eigenvectors_of_the_states_covariance(kind, state):
    torch.manual_seed(0)
    model = build_model(ModelConfig(kind, 12))
    task = TaskConfig(n_min=1, n_max=4)
    projection = fit_projection(model, task, state=state, per_length=40)
    data = states_of(model, task, 40, state)
    assert projection.fitted_on == len(data) == 40 * sum(2 * n for n in range(1, 5))

    covariance = np.cov(data, rowvar=False, bias=True)
    values, vectors = np.linalg.eigh(covariance)  # ascending
    top = vectors[:, ::-1][:, :2].T
    components = projection.components.double().numpy()
    np.testing.assert_allclose(components @ components.T, np.eye(2), atol=1e-5)  # orthonormal
    np.testing.assert_allclose(np.abs((components * top).sum(axis=1)), [1, 1], atol=1e-3)  # same axes
    np.testing.assert_allclose(projection.explained, values[::-1][:2] / values.sum(), rtol=1e-3)

    projected = projection.project(torch.from_numpy(data)).double().numpy()
    np.testing.assert_allclose(projected.mean(axis=0), [0, 0], atol=1e-4)  # centred on the mean state
    np.testing.assert_allclose(projected.var(axis=0), values[::-1][:2], rtol=1e-3)


def test_the_fit_is_repeatable_and_its_signs_fixed():
    torch.manual_seed(1)
    model = build_model(ModelConfig("lstm", 10))
    task = TaskConfig(n_min=1, n_max=3)
    first, second = fit_projection(model, task, per_length=16), fit_projection(model, task, per_length=16)
    assert torch.equal(first.components, second.components)
    for row in first.components:
        assert row[row.abs().argmax()] > 0  # the largest loading is positive: refits do not mirror the plot


def test_final_states_are_split_by_label():
    torch.manual_seed(2)
    model = build_model(ModelConfig("gru", 8))
    task = TaskConfig(n_min=2, n_max=3)
    projection = fit_projection(model, task, per_length=50)
    generator = torch.Generator().manual_seed(FIT_SEED)
    labels = torch.cat([make_batch(task, n, 50, generator).labels for n in (2, 3)])
    assert len(projection.ends[1]) == int(labels.sum()) and len(projection.ends[0]) == int((labels == 0).sum())
    assert projection.ends[0].shape[1] == projection.ends[1].shape[1] == 2


def test_an_rnn_has_no_cell_state_to_fit():
    with pytest.raises(SeqtuiError, match="no cell state"):
        fit_projection(build_model(ModelConfig("rnn", 4)), TaskConfig(n_min=1, n_max=2), state="cell")


def test_long_sequences_and_wide_models_fit_on_a_bounded_sample_of_states():
    torch.manual_seed(3)
    model = build_model(ModelConfig("lstm", 6))
    for state in ("hidden", "cell"):
        projection = fit_projection(model, TaskConfig(n_min=1, n_max=4), state, per_length=40, most=100)
        assert projection.fitted_on == 100  # 25 states from each length
        assert len(projection.ends[0]) + len(projection.ends[1]) == 160  # every final state


def test_a_diverged_model_gets_a_clear_message_not_a_linear_algebra_error():
    model = build_model(ModelConfig("rnn", 4))
    with torch.no_grad():
        model.recurrent.weight_hh_l0.fill_(float("nan"))
    with pytest.raises(SeqtuiError, match="not finite"):
        fit_projection(model, TaskConfig(n_min=1, n_max=2))
