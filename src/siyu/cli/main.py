"""The ``siyu`` command: every command calls services, never SQL.

Errors a user can cause print a message to stderr and exit non-zero (see cli/common.py).
"""

from __future__ import annotations

import typer

from siyu.cli import (access_cmds, analytics_cmds, analyze_cmds, channel_code_cmds, db_cmds, demo_cmds, growth_cmds,
                      import_cmds, serve_cmds, staff_cmds, worker_cmds)
from siyu.cli import content_cmds, segment_cmds, service_cmds, tag_cmds
from siyu.cli import outbox_cmds
from siyu.cli import journey_cmds
from siyu.kit.runtime import tune_gc

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Siyu (私域): private-domain operations platform.")


@app.callback()
def _main() -> None:
    """Siyu (私域): private-domain operations platform."""
    tune_gc()  # imports and the demo allocate like the server does; see kit/runtime.py


app.add_typer(analytics_cmds.app, name="analytics")
app.add_typer(analyze_cmds.app, name="analyze")
app.add_typer(db_cmds.app, name="db")
app.add_typer(import_cmds.app, name="import")
app.add_typer(staff_cmds.app, name="staff")
app.add_typer(channel_code_cmds.app, name="channel-code")
app.add_typer(segment_cmds.app, name="segment")
app.add_typer(tag_cmds.app, name="tag")
app.add_typer(journey_cmds.app, name="journey")
app.add_typer(service_cmds.app, name="service")
app.add_typer(content_cmds.app, name="content")
app.add_typer(content_cmds.mass_app, name="mass")
app.add_typer(outbox_cmds.app, name="outbox")
app.command("serve")(serve_cmds.serve)
app.command("demo")(demo_cmds.demo)
app.command("worker")(worker_cmds.worker)
access_cmds.register(app)
growth_cmds.register(analyze_cmds.app, app)  # funnel, gmv, … beside the other analyses; channel-cost


if __name__ == "__main__":
    app()
