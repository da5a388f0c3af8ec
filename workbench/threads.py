"""Intra-op thread counts for the threads of one process that run torch, so together they never
ask for more cores than the process has.

torch's CPU intra-op pool is OpenMP, and ``torch.set_num_threads(n)`` sets
the count of the thread that calls it (and the default of threads that have
not run torch yet), not of threads already running. So each thread that runs
a model sets its own count when it starts: with ``users`` such threads at
once, each takes ``cores // users`` (at least 1). On the 2-core machine this
project is measured on, the live path (denoiser and recogniser beside the
kernel) gets one intra-op thread per model thread. Asking for more costs far
more than it gains: OpenMP threads wait for each other at every parallel
region, and one that is descheduled stalls the rest (dns48 offline ran at RTF
1.24 on 2 threads and 0.19 on 1 while another process kept one core busy).
"""
import os
from pathlib import Path

import torch

CGROUP_QUOTA = Path("/sys/fs/cgroup/cpu.max")


def cores() -> int:
    """Cores this process may use: its CPU affinity, capped by a cgroup v2 CPU quota if one is set."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota, period = CGROUP_QUOTA.read_text().split()[:2]
        if quota != "max":
            count = min(count, max(1, int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    return count


def share(users: int) -> int:
    """Intra-op threads for each of ``users`` threads that run torch at the same time."""
    return max(1, cores() // max(1, users))


def use_share(users: int) -> int:
    """Give the calling thread its share (:func:`share`) of the cores; call it first thing in each
    thread that runs a model. Returns the count set."""
    count = share(users)
    torch.set_num_threads(count)
    return count
