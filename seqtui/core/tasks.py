"""Sequence generation for the memory tasks.

An example is a pattern of n digits followed by a second half of n digits: 2n digits in all.
It is positive (label 1) when the second half equals the *target*: the pattern itself for the
``match`` task, the pattern reversed for ``palindrome``. Negatives come in three kinds:

- ``random``: a fresh random second half, redrawn until it differs from the target (the
  tutorial checked only against the pattern, so some palindrome "negatives" were palindromes);
- ``hard``: the target with exactly one digit changed, so only a model that remembers every
  digit can reject it;
- ``mixed``: each negative is random or hard with equal odds.

Batches are generated whole, with one pattern length per batch, so a batch never needs padding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from seqtui.settings.config import TaskConfig  # noqa: F401  (re-exported)
from seqtui.settings.errors import SeqtuiError
from seqtui.settings.values import MAX_PATTERN, NEGATIVES, TASKS  # noqa: F401  (re-exported)

MAX_DIGITS = 2 * MAX_PATTERN  # the longest sequence parsed: what any model here is checked for

DIGITS = 10
WHOLE_DIGITS = 15  # a second half this long or shorter fits one int64 (10**15 < 2**63)


@dataclass
class Batch:
    """Sequences that all share one length."""

    digits: torch.Tensor  # (B, T) int64, T = 2n
    labels: torch.Tensor  # (B,) int64, 1 = positive

    def __len__(self) -> int:
        return self.digits.shape[0]

    @property
    def length(self) -> int:
        return self.digits.shape[1]

    def to(self, device: torch.device | str) -> "Batch":
        return Batch(self.digits.to(device, non_blocking=True), self.labels.to(device, non_blocking=True))


def target_of(pattern: torch.Tensor, task: str) -> torch.Tensor:
    """What the second half of a positive is: (B, n) -> (B, n)."""
    return pattern.flip(-1) if task == "palindrome" else pattern


def _random_negatives(target: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Second halves drawn uniformly among all those that differ from the target."""
    if generator.device.type != "cpu" and target.shape[1] <= WHOLE_DIGITS:
        return _numbered_negatives(target, generator)
    halves = torch.randint(0, DIGITS, target.shape, generator=generator, device=target.device)
    same = (halves == target).all(dim=1)
    while same.any():  # 1 in 10**n rows; n=1 needs a few rounds
        rows = same.nonzero().squeeze(1)
        halves[rows] = torch.randint(0, DIGITS, (len(rows), target.shape[1]), generator=generator, device=target.device)
        same = (halves == target).all(dim=1)
    return halves


def _numbered_negatives(target: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The same distribution without a loop that asks the device whether a row must be drawn again
    (a host synchronisation every step on a GPU): each half as one number, drawn among the
    10**n - 1 numbers that are not the target's."""
    count, n = target.shape
    powers = 10 ** torch.arange(n - 1, -1, -1, device=target.device)  # (n,)
    value = (target * powers).sum(dim=1, keepdim=True)  # (B, 1)
    draw = torch.randint(0, 10**n - 1, (count, 1), generator=generator, device=target.device)
    draw = draw + (draw >= value).long()  # skip the target itself
    return draw // powers % DIGITS


def _hard_negatives(target: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    count, n = target.shape
    rows = torch.arange(count, device=target.device)
    position = torch.randint(0, n, (count,), generator=generator, device=target.device)
    shift = torch.randint(1, DIGITS, (count,), generator=generator, device=target.device)
    halves = target.clone()
    halves[rows, position] = (halves[rows, position] + shift) % DIGITS
    return halves


def make_batch(
    config: TaskConfig, n: int, size: int, generator: torch.Generator, negatives: str | None = None
) -> Batch:
    """`size` examples with pattern length `n`, each positive with probability 1/2, made on the
    generator's device (so a GPU's batches never cross from the host)."""
    negatives = negatives or config.negatives
    device = generator.device
    pattern = torch.randint(0, DIGITS, (size, n), generator=generator, device=device)
    target = target_of(pattern, config.task)
    labels = torch.randint(0, 2, (size,), generator=generator, device=device)
    if negatives == "random":
        wrong = _random_negatives(target, generator)
    elif negatives == "hard":
        wrong = _hard_negatives(target, generator)
    else:
        use_hard = torch.randint(0, 2, (size, 1), generator=generator, device=device).bool()
        wrong = torch.where(use_hard, _hard_negatives(target, generator), _random_negatives(target, generator))
    second = torch.where(labels.bool().unsqueeze(1), target, wrong)
    return Batch(torch.cat([pattern, second], dim=1), labels)


def draw_pattern_length(config: TaskConfig, generator: torch.Generator, longest: int | None = None) -> int:
    """A pattern length drawn uniformly from n_min to `longest` (n_max by default)."""
    top = config.n_max if longest is None else max(config.n_min, min(longest, config.n_max))
    return int(torch.randint(config.n_min, top + 1, (1,), generator=generator))


def sample_examples(config: TaskConfig, count: int, generator: torch.Generator) -> list[tuple[list[int], int]]:
    """`count` independent examples, each with its own pattern length, in random order."""
    lengths = torch.randint(config.n_min, config.n_max + 1, (count,), generator=generator)
    examples: list[tuple[list[int], int] | None] = [None] * count
    for n in lengths.unique().tolist():
        where = (lengths == n).nonzero().squeeze(1).tolist()
        batch = make_batch(config, n, len(where), generator)
        for i, digits, label in zip(where, batch.digits.tolist(), batch.labels.tolist()):
            examples[i] = (digits, label)
    return examples  # type: ignore[return-value]


def one_hot(digits: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(B, T) digits -> (B, T, 10), the tutorial's input encoding."""
    return torch.nn.functional.one_hot(digits, DIGITS).to(dtype)


def is_positive(digits: list[int], task: str) -> bool:
    """The true label of one sequence, by definition (odd lengths are never positive)."""
    if len(digits) % 2:
        return False
    n = len(digits) // 2
    pattern, second = digits[:n], digits[n:]
    return second == (pattern[::-1] if task == "palindrome" else pattern)


_SEPARATED = re.compile(r"[\s,]+")
_DIGIT_SET = set("0123456789")


def parse_sequence(text: str) -> list[int]:
    """Read `1 4 2 1 4 2`, `1,4,2,1,4,2` or `142142` as a list of digits.

    Raises SeqtuiError with a message that says what is wrong.
    """
    stripped = text.strip()
    if not stripped:
        raise SeqtuiError("empty sequence: type digits such as 1 4 2 1 4 2")
    tokens = [t for t in _SEPARATED.split(stripped) if t]
    if len(tokens) == 1:
        tokens = list(tokens[0])
    bad = [t for t in tokens if not set(t) <= _DIGIT_SET]
    if bad:
        raise SeqtuiError(
            f"not a digit sequence: {_quoted(bad[0])} in {_quoted(stripped)} (use digits 0-9, e.g. 1 4 2 1 4 2)"
        )
    numbers = [t for t in tokens if len(t) > 1]  # `12 3`: digits separated, but not all of them
    if numbers:
        raise SeqtuiError(_not_one_digit(numbers[0], "".join(tokens)))
    if len(tokens) > MAX_DIGITS:
        raise SeqtuiError(f"too long: {len(tokens):,} digits (at most {MAX_DIGITS:,})")
    if len(tokens) % 2:
        raise SeqtuiError(
            f"odd length {len(tokens)} in {_quoted(stripped)}: a sequence is a pattern and a second half of the same "
            "length"
        )
    return [int(t) for t in tokens]


def _not_one_digit(token: str, digits: str) -> str:
    """Short enough for one line at 80 columns (the probe screen shows it): the user's own digits
    written both ways when they are few, else an example."""
    shown = repr(token) if len(token) <= 8 else f"'{token[:6]}...'"
    if len(digits) > 8:
        digits = "142142"
    return f"{shown} is not one digit: write digits as {' '.join(digits)} or {digits}"


def _quoted(text: str, most: int = 40) -> str:
    """`text` as a message quotes it: whole if short, else its start and its length."""
    if len(text) <= most:
        return repr(text)
    return f"{text[:most]!r}... ({len(text):,} characters)"


def format_sequence(digits: list[int]) -> str:
    n = len(digits) // 2
    return " ".join(map(str, digits[:n])) + " | " + " ".join(map(str, digits[n:]))
