"""KPIs (CSAT, FCR, response and resolution times, repeats) and SOP impact, from the event log."""
