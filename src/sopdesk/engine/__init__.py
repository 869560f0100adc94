"""Case lifecycle and SOP runs as pure decisions.

Owns starting a run, due times, conditional steps, the completion gate, SLA metrics,
escalation and follow-up decisions. Pure: takes `now`, calendars and state; returns
decision values. Must not import `sopdesk.store`, `sopdesk.web` or `sopdesk.channels`.
"""
