"""Benchmark: the routing classifier on banking77 (77 intents of real banking inquiries).

Trains `TfidfClassifier` on train.csv and scores it on test.csv of the public set at
`/work/shared/data/banking77/` (or `--data DIR`; read in place, never copied). Prints
accuracy, macro-F1, training time, predictions per second (one inquiry per call, as the
router asks, and in one batch), and coverage/precision at the router's default
threshold; the last line is the JSON of these figures.

    .venv/bin/python benchmarks/routing.py [--data DIR] [--limit N]
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import time
from pathlib import Path

import sklearn
from sklearn.metrics import accuracy_score, f1_score

from sopdesk.assist.classifier import TfidfClassifier
from sopdesk.assist.routing import DEFAULT_THRESHOLD, Inquiry

DEFAULT_DATA = Path("/work/shared/data/banking77")
SINGLE_CALLS = 500


def load(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [(row["text"], row["category"]) for row in csv.DictReader(handle)]


def single_rate(model: TfidfClassifier, texts: list[str]) -> float:
    sample = texts[:SINGLE_CALLS]
    started = time.perf_counter()
    for text in sample:
        model.predict(Inquiry(body=text))
    return len(sample) / (time.perf_counter() - started)


def threshold_figures(top: list[list[tuple[str, float]]], truth: list[str]) -> dict[str, float]:
    confident = [
        (ranked[0][0], label)
        for ranked, label in zip(top, truth, strict=True)
        if ranked[0][1] >= DEFAULT_THRESHOLD
    ]
    right = sum(predicted == label for predicted, label in confident)
    return {
        "threshold": DEFAULT_THRESHOLD,
        "coverage_at_threshold": round(len(confident) / len(truth), 4),
        "precision_at_threshold": round(right / len(confident), 4) if confident else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=0, help="train on the first N rows only")
    args = parser.parse_args()
    train = load(args.data / "train.csv")
    test = load(args.data / "test.csv")
    if args.limit:
        train = train[: args.limit]

    started = time.perf_counter()
    model = TfidfClassifier.train(train)
    train_s = time.perf_counter() - started

    texts = [text for text, _ in test]
    truth = [label for _, label in test]
    started = time.perf_counter()
    top = model.predict_texts(texts)
    batch_s = time.perf_counter() - started
    predicted = [ranked[0][0] for ranked in top]

    figures = {
        "benchmark": "routing_classifier_banking77",
        "classifier": "TfidfClassifier (word 1-2 + char_wb 2-5 TF-IDF, logistic regression)",
        "train_examples": len(train),
        "test_examples": len(test),
        "labels": len(model.labels),
        "accuracy": round(accuracy_score(truth, predicted), 4),
        "macro_f1": round(f1_score(truth, predicted, average="macro"), 4),
        "top3_accuracy": round(
            sum(label in {c for c, _ in r} for r, label in zip(top, truth, strict=True))
            / len(truth),
            4,
        ),
        "train_seconds": round(train_s, 2),
        "predictions_per_s_batch": round(len(texts) / batch_s, 1),
        "predictions_per_s_single": round(single_rate(model, texts), 1),
        **threshold_figures(top, truth),
        "solver_notes": list(model.report.notes),
        "python": platform.python_version(),
        "scikit_learn": sklearn.__version__,
    }
    for key, value in figures.items():
        print(f"{key:>28}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
