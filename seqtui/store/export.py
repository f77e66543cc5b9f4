"""A run's metrics as CSV files, for spreadsheets and plotting scripts."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from seqtui.settings.errors import SeqtuiError
from seqtui.store.files import write_failure, write_text_atomic
from seqtui.store.run import Run

TRAIN_COLUMNS = ["step", "examples", "elapsed", "loss", "accuracy", "examples_per_s", "grad_norm", "lr"]


def export_csv(run: Run, out: Path | None = None) -> list[Path]:
    """Write train.csv (one row per metrics line) and evals.csv (one row per held-out evaluation:
    accuracy and gradient ratio by length as columns). Returns the files written."""
    if out is None:
        out = run.path / "export"
        if out.is_symlink():  # a link planted in the run: its files are never written through it
            raise SeqtuiError(f"{out} is a link: export will not write through it (give --out DIR)")
    out = Path(out)
    records = run.read_metrics()
    try:
        return _write(out, records)
    except OSError as error:
        raise write_failure(Path(error.filename or out), error) from None


def _write(out: Path, records: list[dict]) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    train = [r for r in records if r.get("kind") == "train"]
    evals = [r for r in records if r.get("kind") == "eval"]
    train_path, evals_path = out / "train.csv", out / "evals.csv"
    # written whole and renamed into place: a link at either name is replaced, never written through
    handle = io.StringIO(newline="")
    writer = csv.writer(handle)
    writer.writerow(TRAIN_COLUMNS)
    for r in train:
        writer.writerow([r.get(c, "") for c in TRAIN_COLUMNS])
    write_text_atomic(train_path, handle.getvalue())
    lengths = sorted({int(k) for r in evals for k in r.get("accuracy_by_length", {})})
    handle = io.StringIO(newline="")
    writer = csv.writer(handle)
    writer.writerow(
        ["step", "examples", "elapsed", "negatives", "accuracy", "worst"]
        + [f"accuracy_{n}" for n in lengths]
        + [f"gradient_ratio_{n}" for n in lengths]
    )
    for r in evals:
        by_length = r.get("accuracy_by_length", {})
        ratios = r.get("gradient_ratio_by_length", {})
        writer.writerow(
            [r.get("step"), r.get("examples"), r.get("elapsed", ""), r.get("negatives", ""), r.get("accuracy")]
            + [r.get("worst")]
            + [by_length.get(str(n), "") for n in lengths]
            + [ratios.get(str(n), "") for n in lengths]
        )
    write_text_atomic(evals_path, handle.getvalue())
    return [train_path, evals_path]
