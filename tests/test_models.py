import pytest
import torch

from seqtui.core.models import ModelConfig, build_model
from seqtui.settings.errors import SettingError


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_fused_layer_computes_what_the_step_by_step_loop_computes(kind):
    torch.manual_seed(0)
    model = build_model(ModelConfig(kind, 24))
    # train a little so the weights are not at their initial symmetric values
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    digits = torch.randint(0, 10, (7, 13))
    logits, hidden = model(digits)
    unrolled = model.unroll(digits)
    assert logits.shape == (7, 13, 2) and hidden.shape == (7, 13, 24)
    torch.testing.assert_close(torch.stack(unrolled.hidden, dim=1), hidden, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(unrolled.logits, logits, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(model.classify(digits), logits[:, -1], rtol=1e-5, atol=1e-5)
    with torch.inference_mode():  # the inference path may differ (the rnn's does)
        torch.testing.assert_close(model.classify(digits), logits[:, -1], rtol=1e-5, atol=1e-5)
    assert (unrolled.cell is not None) == (kind == "lstm")


def test_rnn_is_the_tutorial_elman_relu_network():
    torch.manual_seed(1)
    model = build_model(ModelConfig("rnn", 50))
    r = model.recurrent
    digits = torch.tensor([[1, 4, 2, 1, 4, 2]])
    h = torch.zeros(50)
    states = []
    for d in digits[0]:
        x = torch.zeros(10)
        x[d] = 1.0
        h = torch.relu(r.weight_ih_l0 @ x + r.bias_ih_l0 + r.weight_hh_l0 @ h + r.bias_hh_l0)
        states.append(h)
    logits, hidden = model(digits)
    torch.testing.assert_close(hidden[0], torch.stack(states), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(logits[0, -1], model.head.weight @ states[-1] + model.head.bias)


def test_identity_init_and_forget_bias():
    irnn = build_model(ModelConfig("rnn", 8, "identity"))
    assert torch.equal(irnn.recurrent.weight_hh_l0.detach(), torch.eye(8))
    assert torch.all(irnn.recurrent.bias_hh_l0 == 0)
    lstm = build_model(ModelConfig("lstm", 8))
    forget = lstm.recurrent.bias_ih_l0[8:16] + lstm.recurrent.bias_hh_l0[8:16]
    assert torch.allclose(forget, torch.ones(8))


@pytest.mark.parametrize(
    "values, says, setting",
    [
        (("transformer",), "unknown model", "model"),
        (("rnn", 0), "at least 1", "hidden"),
        (("lstm", 8, "identity"), "lstm model takes only the default init", "init"),
        (("rnn", 8, "zeros"), "unknown init", "init"),
    ],
)
def test_impossible_model_settings_are_refused_before_a_model_is_built(values, says, setting):
    with pytest.raises(SettingError, match=says) as refused:
        build_model(ModelConfig(*values))
    assert refused.value.setting == setting
