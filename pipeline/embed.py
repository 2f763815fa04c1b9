"""Statement embeddings (stub: the real implementation lands with the model-build issue)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into L2-normalized vectors, shape (len(texts), dim), float32."""

    @property
    def name(self) -> str:
        """Identifies the model and its weights (a content hash for real models)."""
        ...

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Embed `texts`; row i is the unit-length embedding of texts[i]."""
        ...
