"""Case lifecycle and SOP runs as pure decisions.

Owns starting a run, due times, conditional steps, the completion gate, SLA metrics,
escalation and follow-up decisions. Pure: takes `now`, calendars and state; returns
decision values. Must not import `sopdesk.store`, `sopdesk.web` or `sopdesk.channels`.

The shell's loop: load a `CaseState`, call `decide` (or a transition such as
`complete_step`), carry out the returned decisions in one transaction, and store the
state that `record` folds them into. See docs/engine.md.
"""

from sopdesk.engine.decide import decide, quiet_until
from sopdesk.engine.decisions import (
    CancelFollowup,
    CancelTimer,
    Decision,
    Escalate,
    LogStep,
    OpenTask,
    RecordBreach,
    ScheduleFollowup,
    ScheduleTimer,
    SendTemplate,
)
from sopdesk.engine.gate import Gate, can_resolve
from sopdesk.engine.policy import DEFAULT_POLICY, PAUSE_ON_HOLD_TOO, ClockPolicy
from sopdesk.engine.record import record
from sopdesk.engine.report import ClockStatus, clock_statuses, next_due_at
from sopdesk.engine.retime import retime
from sopdesk.engine.run import PlannedStep, Projection, RunPlan, plan_steps, project, start_run
from sopdesk.engine.sequences import (
    CustomerEvent,
    customer_sequence,
    release_sequence_followup,
    runs_as_case,
    sequence_applies,
)
from sopdesk.engine.state import (
    Case,
    CaseState,
    CaseStatus,
    Customer,
    Message,
    MessageKind,
    StepState,
    StepStatus,
)
from sopdesk.engine.transitions import (
    Outcome,
    World,
    add_message,
    change_status,
    complete_step,
    override_step,
    record_event,
    resolve,
    skip_step,
)

__all__ = [
    "DEFAULT_POLICY",
    "PAUSE_ON_HOLD_TOO",
    "CancelFollowup",
    "CancelTimer",
    "Case",
    "CaseState",
    "CaseStatus",
    "ClockPolicy",
    "ClockStatus",
    "Customer",
    "CustomerEvent",
    "Decision",
    "Escalate",
    "Gate",
    "LogStep",
    "Message",
    "MessageKind",
    "OpenTask",
    "Outcome",
    "PlannedStep",
    "Projection",
    "RecordBreach",
    "RunPlan",
    "ScheduleFollowup",
    "ScheduleTimer",
    "SendTemplate",
    "StepState",
    "StepStatus",
    "World",
    "add_message",
    "can_resolve",
    "change_status",
    "clock_statuses",
    "complete_step",
    "customer_sequence",
    "decide",
    "next_due_at",
    "override_step",
    "plan_steps",
    "project",
    "quiet_until",
    "record",
    "record_event",
    "release_sequence_followup",
    "resolve",
    "retime",
    "runs_as_case",
    "sequence_applies",
    "skip_step",
    "start_run",
]
