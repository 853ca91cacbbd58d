"""A small L2-regularised logistic regression, fitted by Newton's method.

Both learned decisions in quoth (which sentence to mark, whether to refuse) are a handful of
weights over a handful of signals. Newton's method on a few thousand rows converges in a dozen
steps and is exactly reproducible, which a packaged default and ``quoth calibrate`` need; it
also spares the Docker image a machine-learning library for twenty lines of NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class LinearModel:
    """Weights over standardised features: ``sigmoid(((x - mean) / scale) @ weights + bias)``."""

    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]

    def logit(self, features: Matrix) -> Matrix:
        x = (np.atleast_2d(features) - np.asarray(self.mean)) / np.asarray(self.scale)
        return x @ np.asarray(self.weights) + self.bias  # type: ignore[no-any-return]

    def probability(self, features: Matrix) -> Matrix:
        return 1.0 / (1.0 + np.exp(-self.logit(features)))


def fit_logistic(
    features: Matrix,
    labels: npt.NDArray[np.bool_],
    sample_weights: Matrix | None = None,
    l2: float = 1.0,
    steps: int = 50,
) -> LinearModel:
    """Maximum a-posteriori weights (Gaussian prior ``l2``, bias unpenalised).

    ``sample_weights`` let each question file count equally however many questions it has.
    """
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    w = np.ones(len(y)) if sample_weights is None else np.asarray(sample_weights, np.float64)
    w = w * len(y) / w.sum()
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    design = np.hstack([(x - mean) / scale, np.ones((len(y), 1))])
    penalty = np.full(design.shape[1], l2)
    penalty[-1] = 0.0
    beta = np.zeros(design.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(design @ beta)))
        gradient = design.T @ (w * (p - y)) + penalty * beta
        hessian = (design * (w * p * (1 - p))[:, None]).T @ design + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return LinearModel(
        weights=tuple(float(b) for b in beta[:-1]),
        bias=float(beta[-1]),
        mean=tuple(float(m) for m in mean),
        scale=tuple(float(s) for s in scale),
    )
