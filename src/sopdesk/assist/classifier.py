"""A routing classifier that learns from the business's own labelled cases.

Owns `TfidfClassifier`: word (1–2 gram) and character (2–5 gram) TF-IDF features with a
multinomial logistic regression, trained from `(text, label)` pairs where the label is
a case type or an SOP id. It satisfies `assist.routing.Classifier`. Everything runs on
the machine: no download, no hosted model. Pure apart from the CPU it trains on; must
not import `sopdesk.store`, `sopdesk.web` or `sopdesk.actions`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline, make_union

from sopdesk.assist.routing import Inquiry
from sopdesk.errors import InvalidInput

SMALL_TRAINING_SET = 500
"""Below this many examples, rare character n-grams are kept (min_df 1 instead of 2)."""


@dataclass(frozen=True)
class TrainingReport:
    """What training saw: examples used and skipped, labels, and any solver warning."""

    examples: int
    skipped: int
    labels: tuple[str, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TfidfClassifier:
    """Predicts a case type (or SOP id) for an inquiry; build it with `train`."""

    pipeline: Pipeline
    labels: tuple[str, ...]
    report: TrainingReport
    top: int = 3

    @classmethod
    def train(
        cls,
        examples: Iterable[tuple[str, str]],
        *,
        top: int = 3,
        regularisation: float = 10.0,
        max_iter: int = 2000,
    ) -> TfidfClassifier:
        """Fit on `(text, label)` pairs; blank texts or labels are skipped and counted."""
        texts, labels, skipped = _clean(examples)
        distinct = sorted(set(labels))
        if len(distinct) < 2:
            raise InvalidInput(
                f"the classifier needs examples of at least 2 labels, got {len(distinct)}",
                hint="label more past cases with their case type",
            )
        pipeline = _pipeline(len(texts), regularisation, max_iter)
        notes = _fit(pipeline, texts, labels)
        report = TrainingReport(len(texts), skipped, tuple(distinct), notes)
        return cls(pipeline, tuple(str(label) for label in pipeline.classes_), report, top)

    def predict(self, inquiry: Inquiry) -> list[tuple[str, float]]:
        """The `top` most likely labels for one inquiry, with their probabilities."""
        return self.predict_texts([inquiry.text])[0]

    def predict_texts(self, texts: Sequence[str]) -> list[list[tuple[str, float]]]:
        """The `top` labels for each text, best first (a batch is much faster)."""
        if not texts:
            return []
        probabilities = self.pipeline.predict_proba(list(texts))
        best = np.argsort(-probabilities, axis=1, kind="stable")[:, : self.top]
        return [
            [(self.labels[i], float(row[i])) for i in order]
            for row, order in zip(probabilities, best, strict=True)
        ]

    def label_texts(self, texts: Sequence[str]) -> list[str]:
        """The single most likely label for each text."""
        return [str(label) for label in self.pipeline.predict(list(texts))]


def _clean(examples: Iterable[tuple[str, str]]) -> tuple[list[str], list[str], int]:
    texts: list[str] = []
    labels: list[str] = []
    skipped = 0
    for text, label in examples:
        if not str(text or "").strip() or not str(label or "").strip():
            skipped += 1
            continue
        texts.append(str(text))
        labels.append(str(label).strip())
    return texts, labels, skipped


def _pipeline(size: int, regularisation: float, max_iter: int) -> Pipeline:
    words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, strip_accents="unicode")
    characters = TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(2, 5),
        sublinear_tf=True,
        strip_accents="unicode",
        min_df=1 if size < SMALL_TRAINING_SET else 2,
    )
    model = LogisticRegression(C=regularisation, max_iter=max_iter)
    return make_pipeline(make_union(words, characters), model)


def _fit(pipeline: Pipeline, texts: list[str], labels: list[str]) -> tuple[str, ...]:
    """Fit in place; a solver that stops before converging is reported, not hidden."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            pipeline.fit(texts, labels)
        except ValueError as exc:
            raise InvalidInput(f"the classifier could not be trained: {exc}") from None
    for warning in caught:
        if not issubclass(warning.category, ConvergenceWarning):
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    return tuple(
        f"the solver stopped before converging ({warning.message}); raise max_iter"
        for warning in caught
        if issubclass(warning.category, ConvergenceWarning)
    )
