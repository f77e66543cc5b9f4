import pytest
import torch

from seqtui.core.tasks import NEGATIVES, TASKS, TaskConfig, make_batch, one_hot, parse_sequence, sample_examples
from seqtui.settings.errors import SeqtuiError, SettingError


def truly_positive(digits: list[int], task: str) -> bool:
    """Independent definition of a positive, written without the module's helpers."""
    half = len(digits) // 2
    first, second = digits[:half], digits[half:]
    if task == "palindrome":
        return all(second[i] == first[half - 1 - i] for i in range(half))
    return all(second[i] == first[i] for i in range(half))


def differences_from_target(digits: list[int], task: str) -> int:
    half = len(digits) // 2
    first, second = digits[:half], digits[half:]
    target = list(reversed(first)) if task == "palindrome" else first
    return sum(a != b for a, b in zip(second, target))


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("negatives", NEGATIVES)
def test_every_label_is_correct(task, negatives):
    config = TaskConfig(task, negatives, 1, 10)
    generator = torch.Generator().manual_seed(7)
    for n in (1, 2, 3, 10):
        batch = make_batch(config, n, 4000, generator)
        assert batch.digits.shape == (4000, 2 * n)
        assert batch.digits.min() >= 0 and batch.digits.max() <= 9
        for digits, label in zip(batch.digits.tolist(), batch.labels.tolist()):
            assert label == int(truly_positive(digits, task)), (digits, label)


def test_palindrome_random_negatives_are_never_palindromes():
    # the tutorial's flaw: about 1% of its n=2 palindrome negatives were palindromes
    config = TaskConfig("palindrome", "random")
    batch = make_batch(config, 2, 50_000, torch.Generator().manual_seed(1))
    negatives = batch.digits[batch.labels == 0]
    assert not (negatives[:, 2:] == negatives[:, :2].flip(1)).all(dim=1).any()


@pytest.mark.parametrize("task", TASKS)
def test_hard_negatives_differ_in_exactly_one_position(task):
    config = TaskConfig(task, "hard")
    generator = torch.Generator().manual_seed(3)
    for n in (1, 4, 10):
        batch = make_batch(config, n, 3000, generator)
        for digits, label in zip(batch.digits.tolist(), batch.labels.tolist()):
            assert differences_from_target(digits, task) == (0 if label else 1)


def test_random_negatives_differ_in_most_positions_and_mixed_has_both_kinds():
    generator = torch.Generator().manual_seed(4)
    random = make_batch(TaskConfig("match", "random"), 10, 4000, generator)
    diffs = [
        differences_from_target(d, "match") for d, y in zip(random.digits.tolist(), random.labels.tolist()) if not y
    ]
    assert sum(diffs) / len(diffs) == pytest.approx(9.0, abs=0.2)  # 90% of positions
    mixed = make_batch(TaskConfig("match", "mixed"), 10, 4000, generator)
    diffs = [differences_from_target(d, "match") for d, y in zip(mixed.digits.tolist(), mixed.labels.tolist()) if not y]
    share_hard = sum(d == 1 for d in diffs) / len(diffs)
    assert 0.45 < share_hard < 0.56


def test_labels_are_balanced_and_lengths_uniform():
    config = TaskConfig("match", "mixed", 1, 10)
    examples = sample_examples(config, 40_000, torch.Generator().manual_seed(5))
    labels = [y for _, y in examples]
    assert abs(sum(labels) / len(labels) - 0.5) < 0.01  # 5 standard errors
    counts = {}
    for digits, _ in examples:
        counts[len(digits)] = counts.get(len(digits), 0) + 1
    assert sorted(counts) == list(range(2, 21, 2))
    for count in counts.values():
        assert abs(count - 4000) < 300  # ~5 standard errors of a binomial(40000, 0.1)


def test_generation_is_reproducible_by_seed():
    config = TaskConfig("palindrome", "mixed")
    a = make_batch(config, 5, 100, torch.Generator().manual_seed(11))
    b = make_batch(config, 5, 100, torch.Generator().manual_seed(11))
    c = make_batch(config, 5, 100, torch.Generator().manual_seed(12))
    assert torch.equal(a.digits, b.digits) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.digits, c.digits)


def test_one_hot_matches_the_tutorial_encoding():
    x = one_hot(torch.tensor([[3, 0, 9]]))
    assert x.shape == (1, 3, 10) and x.dtype == torch.float32
    assert x[0, 0, 3] == 1 and x[0, 2, 9] == 1 and x.sum() == 3


@pytest.mark.parametrize("text", ["1 4 2 1 4 2", "1,4,2,1,4,2", "142142", "  1, 4 ,2 1 4 2\n"])
def test_parse_accepts_the_three_forms(text):
    assert parse_sequence(text) == [1, 4, 2, 1, 4, 2]


@pytest.mark.parametrize(
    "text, says",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("12a4", "not a digit"),
        ("1 2 3", "odd length"),
        ("12 34", "'12' is not one digit"),
        ("1 -2", "not a digit"),
        ("1.5 2", "not a digit"),
    ],
)
def test_parse_explains_bad_input(text, says):
    with pytest.raises(SeqtuiError, match=says):
        parse_sequence(text)


@pytest.mark.parametrize(
    "values, says, setting",
    [
        (dict(task="copy"), "unknown task", "task"),
        (dict(negatives="easy"), "unknown negatives", "negatives"),
        (dict(n_min=0), "at least 1", "n-min"),
        (dict(n_min=5, n_max=3), "larger than", "n-min"),
        (dict(n_max="3"), "n_max must be a whole number", "n-max"),
    ],
)
def test_impossible_task_settings_are_refused_when_built(values, says, setting):
    with pytest.raises(SettingError, match=says) as refused:
        TaskConfig(**values)
    assert refused.value.setting == setting


def test_negatives_drawn_as_numbers_never_equal_the_target_and_cover_all_others():
    """The GPU's way to draw random negatives (no loop that waits for the device), checked on the CPU."""
    from seqtui.core.tasks import WHOLE_DIGITS, _numbered_negatives

    generator = torch.Generator().manual_seed(1)
    for n in (1, 2, 5, WHOLE_DIGITS):
        target = torch.randint(0, 10, (20_000, n), generator=generator)
        halves = _numbered_negatives(target, generator)
        assert halves.shape == target.shape and halves.dtype == torch.int64
        assert not (halves == target).all(dim=1).any()
        assert 0 <= int(halves.min()) and int(halves.max()) <= 9
    ones = _numbered_negatives(torch.full((90_000, 1), 4), generator)
    counts = torch.bincount(ones.view(-1), minlength=10).tolist()
    assert counts[4] == 0 and all(abs(c - 10_000) < 500 for i, c in enumerate(counts) if i != 4)


def test_batches_are_made_on_the_generators_device():
    generator = torch.Generator(device="cpu").manual_seed(0)
    batch = make_batch(TaskConfig(), 3, 8, generator)
    assert batch.digits.device == generator.device == batch.labels.device
