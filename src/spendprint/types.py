"""Type aliases used across spendprint."""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import scipy.sparse as sps

FloatArray: TypeAlias = npt.NDArray[np.float64]
Matrix: TypeAlias = "FloatArray | sps.csr_array | sps.csr_matrix"
