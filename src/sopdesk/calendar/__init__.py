"""Business calendars and deadline math.

Owns opening hours, holidays and closures, durations, `add`/`elapsed`, pausable
clocks and the vectorised bulk path. Pure: no database, no clock, no I/O beyond
parsing the config and .ics text it is handed.
"""
