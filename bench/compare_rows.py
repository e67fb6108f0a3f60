"""Each row of a finished comparison against other rows: its own and rows known by summary.

A comparison's table gives each row's difference to its first row only. To set rows of
several comparisons of the same recipe side by side (or a row whose runs are gone), this
prints every row's difference to each reference with the same 95% Welch interval. A
reference is a row of the comparison (`--against LABEL`) or a summary `LABEL=MEAN,STD,N`
(`--summary`); Welch's interval needs only the mean, the sample standard deviation and the
count, so a summary's interval equals the one from its runs up to the summary's rounding.

    python bench/compare_rows.py bench/fashion_mnist_1h_compare.json \
        --summary nasnet_a=0.8919,0.0029,3 --against random-3.json
"""

from __future__ import annotations

import argparse
import json
import math

from keras_nasnet.compare.report import interval_text
from keras_nasnet.compare.stats import welch_interval


def summary_sample(mean: float, std: float, count: int) -> list[float]:
    """Returns `count` values whose mean is `mean` and sample standard deviation `std`."""
    if count < 2:
        return [mean] * count
    # Two values at mean +/- d and the rest at the mean: the sample variance is 2 d^2 / (n - 1).
    d = std * math.sqrt((count - 1) / 2.0)
    return [mean - d, mean + d] + [mean] * (count - 2)


def parse_summary(text: str) -> tuple[str, list[float]]:
    label, _, numbers = text.rpartition("=")
    try:
        mean_text, std_text, count_text = numbers.split(",")
        mean, std, count = float(mean_text), float(std_text), int(count_text)
    except ValueError:
        mean = std = count = None
    if not label or count is None or count < 1 or not std >= 0:
        raise SystemExit(f"--summary {text!r}: expected LABEL=MEAN,STD,N (STD >= 0, N >= 1)")
    return label, summary_sample(mean, std, count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("comparison", help="a comparison's compare.json")
    parser.add_argument("--summary", action="append", default=[], help="LABEL=MEAN,STD,N")
    parser.add_argument("--against", action="append", default=[], help="a row's label")
    args = parser.parse_args()
    with open(args.comparison, encoding="utf-8") as f:
        rows = json.load(f)["rows"]
    accuracies = {row["label"]: row["accuracies"] for row in rows}
    references = dict(parse_summary(text) for text in args.summary)
    for label in args.against:
        if label not in accuracies:
            raise SystemExit(f"--against {label!r}: no such row ({', '.join(accuracies)})")
        references[label] = accuracies[label]
    for row in rows:
        seeds = len(row["accuracies"])
        print(
            f"{row['label']}: F={row['filters']}, {row['params']:,} parameters, "
            f"{row['mean_accuracy']:.4f} ± {row['std_accuracy']:.4f} ({seeds} seeds)"
        )
        for name, reference in references.items():
            if name != row["label"]:
                interval = welch_interval(reference, row["accuracies"])
                print(f"  minus {name}: {interval_text(interval)}")


if __name__ == "__main__":
    main()
