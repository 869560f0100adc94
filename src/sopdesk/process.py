"""What every long-running sopdesk process sets up once at start (`start_process`):
`sopdesk serve` (and each process `--workers N` forks), `sopdesk worker`, `sopdesk mail
serve` and `sopdesk mail poll`. Short commands keep Python's defaults.
"""

from __future__ import annotations

import gc

from sopdesk.logs import configure as configure_logging
from sopdesk.settings import Settings

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


def start_process(settings: Settings) -> None:
    """Structured logs on stderr (`sopdesk.logs`, JSON lines: docs/deploy.md) and the
    garbage collector's pace (`tune_gc`)."""
    configure_logging(settings.log_format, settings.log_level)
    tune_gc()
