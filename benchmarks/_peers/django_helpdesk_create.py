"""Peer side of benchmarks/intake.py: django-helpdesk ticket creation through its public form.

Runs inside the peer's own venv (django-helpdesk installed there), never imports sopdesk:

    python django_helpdesk_create.py PROJECT_DIR INQUIRIES.json N WARMUP [GC_THRESHOLDS]

PROJECT_DIR is a migrated `django-admin startproject hdproj` folder (settings appended by
intake.py). INQUIRIES.json is a list of {"title", "body", "email", "queue"} (queue is one
of the slugs created below); ticket i uses inquiry i modulo its length. The first WARMUP
tickets are created untimed (imports, caches, first queries), then N tickets are timed.
GC_THRESHOLDS ("50000,20,20") sets the garbage collector's thresholds first, as sopdesk's
long-running processes do (`sopdesk.process.tune_gc`); without it, CPython's defaults.

Each ticket goes through exactly what the public submit view
(`helpdesk.views.public.BaseCreateTicketView.form_valid`) runs:
`PublicTicketForm(data=...).is_valid()` then `form.save(user=None)` — Ticket saved,
"Ticket Opened Via Web" follow-up saved, `newticket_submitter` e-mail rendered from its
EmailTemplate row and handed to the (dummy) e-mail backend, follow-up saved again with its
recipients. One ticket per iteration, as the view does (Django autocommit, no wrapping
transaction). Prints one JSON line: process CPU time and wall time of the timed loop.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from pathlib import Path

QUEUES = {
    "returns": "Returns and refunds",
    "complaints": "Complaints",
    "questions": "Questions",
    "general": "General",
}


def main() -> None:
    project, source, n, warmup = Path(sys.argv[1]), Path(sys.argv[2]), *map(int, sys.argv[3:5])
    if len(sys.argv) > 5:
        gc.set_threshold(*map(int, sys.argv[5].split(",")))
    sys.path.insert(0, str(project))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hdproj.settings")

    import django

    django.setup()

    from django.db import connection
    from helpdesk.forms import PublicTicketForm
    from helpdesk.models import FollowUp, Queue, Ticket

    queue_ids: dict[str, int] = {}
    for slug, title in QUEUES.items():
        queue, _ = Queue.objects.get_or_create(
            slug=slug,
            defaults={
                "title": title,
                "allow_public_submission": True,
                "email_address": f"{slug}@helpdesk.example",
            },
        )
        queue_ids[slug] = queue.id

    inquiries = json.loads(source.read_text(encoding="utf-8"))

    def create(i: int) -> None:
        inquiry = inquiries[i % len(inquiries)]
        data = {
            "queue": str(queue_ids[inquiry["queue"]]),
            "title": inquiry["title"],
            "body": inquiry["body"],
            "priority": "3",
            "due_date": "",
            "submitter_email": inquiry["email"],
        }
        # as BaseCreateTicketView.get_form_kwargs builds it for an anonymous POST
        form = PublicTicketForm(readonly_fields=[""], initial={}, data=data, files={})
        if not form.is_valid():
            raise SystemExit(f"form invalid for inquiry {i}: {form.errors.as_json()}")
        form.save(user=None)

    for i in range(warmup):
        create(i)
    tickets_before = Ticket.objects.count()

    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(warmup, warmup + n):
        create(i)
    cpu_s, wall_s = time.process_time() - cpu, time.perf_counter() - wall

    from importlib.metadata import version

    result = {
        "peer": "django-helpdesk",
        "path": "PublicTicketForm(data).is_valid(); form.save(user=None)",
        "versions": {
            "django": version("Django"),
            "django_helpdesk": version("django-helpdesk"),
            "sqlite": connection.Database.sqlite_version,
        },
        "n": n,
        "warmup": warmup,
        "cpu_s": round(cpu_s, 4),
        "wall_s": round(wall_s, 4),
        "created_tickets": Ticket.objects.count() - tickets_before,
        "followups": FollowUp.objects.count(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
