"""Peer side of benchmarks/business_time.py. Runs inside the peers' own venv, never imports sopdesk.

    python business_time_peers.py INPUT.npz OUTPUT_DIR PEER

INPUT.npz holds `starts` (int64 epoch seconds), `hours` (int64 whole business hours) and
`holidays` (ISO date strings). PEER is `businesstimedelta` or `pandas_cbh`. Writes
OUTPUT_DIR/PEER.npz with `due` (int64 epoch seconds; -1 where the peer raised) and
prints one JSON line with the timing (process CPU time and wall time of the
computation only; inputs are built in the peer's native types before the clock starts).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ZONE = "America/New_York"


def run_businesstimedelta(starts, hours, holidays):
    import businesstimedelta
    import pytz

    zone = pytz.timezone(ZONE)
    rules = businesstimedelta.Rules(
        [
            businesstimedelta.WorkDayRule(
                start_time=dt.time(9), end_time=dt.time(17), working_days=[0, 1, 2, 3, 4], tz=zone
            ),
            businesstimedelta.HolidayRule(holidays, tz=zone),
        ]
    )
    deltas = {h: businesstimedelta.BusinessTimeDelta(rules, hours=int(h)) for h in set(hours)}
    inputs = [
        (dt.datetime.fromtimestamp(int(s), pytz.utc).astimezone(zone), deltas[int(h)])
        for s, h in zip(starts, hours, strict=True)
    ]
    due = np.full(len(inputs), -1, dtype=np.int64)
    errors = 0
    cpu, wall = time.process_time(), time.perf_counter()
    results = []
    for start, delta in inputs:
        try:
            results.append(start + delta)
        except TypeError:
            results.append(None)
            errors += 1
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    for i, result in enumerate(results):
        if result is not None:
            due[i] = int(result.timestamp())
    return due, cpu, wall, errors, f"businesstimedelta {_version('businesstimedelta')}"


def run_pandas_cbh(starts, hours, holidays):
    """The fastest pandas use found in research: per distinct h, CustomBusinessHour on a
    naive wall-time index, re-localised (tz conversion is vectorised, the offset is not)."""
    import pandas as pd
    from pandas.tseries.offsets import CustomBusinessHour

    warnings.simplefilter("ignore")
    local = pd.to_datetime(starts, unit="s", utc=True).tz_convert(ZONE)
    naive = local.tz_localize(None)
    groups = {int(h): np.flatnonzero(hours == h) for h in np.unique(hours)}
    offsets = {
        h: CustomBusinessHour(n=h, start="09:00", end="17:00", holidays=list(holidays))
        for h in groups
    }
    due = np.full(len(starts), -1, dtype=np.int64)
    cpu, wall = time.process_time(), time.perf_counter()
    for h, rows in groups.items():
        moved = (naive[rows] + offsets[h]).tz_localize(ZONE)
        due[rows] = (moved - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return due, cpu, wall, 0, f"pandas {pd.__version__} CustomBusinessHour"


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


PEERS = {"businesstimedelta": run_businesstimedelta, "pandas_cbh": run_pandas_cbh}


def main() -> None:
    source, out_dir, peer = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    data = np.load(source)
    holidays = [dt.date.fromisoformat(str(day)) for day in data["holidays"]]
    due, cpu, wall, errors, label = PEERS[peer](data["starts"], data["hours"], holidays)
    np.savez(out_dir / f"{peer}.npz", due=due)
    print(
        json.dumps(
            {
                "peer": peer,
                "label": label,
                "n": len(due),
                "cpu_s": cpu,
                "wall_s": wall,
                "raised": errors,
            }
        )
    )


if __name__ == "__main__":
    main()
