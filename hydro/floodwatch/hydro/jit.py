"""What the compiled (numba) kernels of the model share: the threading layer and one lock.

numba's portable threading layer ("workqueue", fork-safe, no system library needed) is used
unless ``NUMBA_THREADING_LAYER`` says otherwise; it does not allow two parallel kernels to be
launched at once, so every parallel launch holds :data:`PARALLEL`. Code running on dask's
threads calls the serial kernels instead (dask is then the parallelism). Compiled code is
cached next to the modules (``cache=True``): the first call after an install compiles it.
"""

from __future__ import annotations

import os
import threading

import numba

if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"  # type: ignore[attr-defined]

#: Held while a parallel kernel runs.
PARALLEL = threading.Lock()
