"""Folds that keep related rows together: shared by cross-validation in training, the inner folds
of the stacked and context models and label review. A pure function of the labels and groups it is
given (no file is read)."""

from __future__ import annotations


def group_folds(labels, categories, groups, k: int = 5, seed: int = 0) -> list[tuple["object", "object"]]:
    """Group-aware stratified k-fold (train, validation) index arrays: rows of one paraphrase or
    contrast group never straddle folds; strata are the category (or `other`). Shared by
    cross-validation, the stacked model's inner folds and label review."""
    import numpy as np
    from sklearn.model_selection import StratifiedGroupKFold

    strata = np.array([("other" if lab == "other" else (cat or lab)) for lab, cat in zip(labels, categories)], dtype=object)
    groups = np.asarray([str(g) for g in groups], dtype=object)
    return list(StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(strata)), strata, groups))
