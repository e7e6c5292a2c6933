"""Child processes that die with their parent, so that a killed ``compressiq collect`` or ``score --gpus``
leaves nothing running.

A build starts processes: datatrove's extraction sandbox (one forked child per task, which outlives a
``kill -9`` of its parent for good), the worker pool of ``--workers N`` and its helpers. On Linux each of
them asks the kernel (``prctl(PR_SET_PDEATHSIG, SIGKILL)``) to be killed when the process that started it
ends, however it ends; the chain reaches every descendant (``collect.pipeline`` forks its pool workers
from the build for this). Elsewhere nothing is done.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_forker = {"pid": 0}  # the process that is forking, recorded just before each fork
_installed = {"done": False}


def die_with_parent(parent: int | None = None) -> None:
    """Have the kernel SIGKILL this process when its parent ends; exit now if ``parent`` already has
    (the parent may end between the fork and this call). The kernel's part is Linux only."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if parent is not None and os.getppid() != parent:
        os._exit(1)


def install() -> None:
    """From now on every process forked from this one (and, through the hook it inherits, from its
    children) dies with its parent. Idempotent."""
    if _installed["done"] or not hasattr(os, "register_at_fork"):
        return
    os.register_at_fork(
        before=lambda: _forker.update(pid=os.getpid()),
        after_in_child=lambda: die_with_parent(_forker["pid"]),
    )
    _installed["done"] = True
