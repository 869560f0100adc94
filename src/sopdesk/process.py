"""Settings of the interpreter that every long-running sopdesk process applies once at
start: `sopdesk serve` (and each process `--workers N` forks), `sopdesk worker` and
`sopdesk mail serve`. Short commands keep CPython's defaults.
"""

from __future__ import annotations

import gc

GC_THRESHOLDS = (50_000, 20, 20)
"""Allocations between collections of the youngest generation, and how many of each
generation's collections before the next one is collected: CPython's default is
(700, 10, 10)."""


def tune_gc() -> None:
    """Let the cyclic garbage collector run less often than CPython's default.

    A worker firing a batch of timers, or a server opening cases, creates and drops
    hundreds of thousands of small objects (ORM rows, engine states, rendered
    templates), most of them freed at once by reference counting. At the default pace
    the collector still walks the young objects every 700 allocations and the older
    ones every 7,000 and 70,000, caches included: about a fifth of the CPU of a batch
    of timers that each do days of escalations (docs/performance.md, session 8). At
    these thresholds it costs a few per cent, and the garbage it has not collected yet
    (objects in reference cycles) stays within a few megabytes.
    """
    gc.set_threshold(*GC_THRESHOLDS)
