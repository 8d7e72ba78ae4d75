"""A ``jobmatch`` command run in a child process that stops where the parent test asks,
so that the test can kill it (SIGKILL) at a known stage.

``python child.py STAGE jobmatch-args...`` runs the command line; with STAGE
``reading`` a nightly run stops once it has read and scored (before its pins are added),
with ``assigning`` once its candidates are scored (before the plan is made), with
``writing`` it stops inside its final transaction once some plan rows are
written, with ``importing`` an import stops inside its transaction once two tables are
written; ``none`` runs through. The child says ``PAUSED <stage>`` on stderr when it
stops, and sleeps until it is killed.
"""

from __future__ import annotations

import sys
import time


def _pause(stage: str) -> None:
    print(f"PAUSED {stage}", file=sys.stderr, flush=True)
    time.sleep(600)


def main() -> None:
    stage, args = sys.argv[1], sys.argv[2:]
    if stage in ("reading", "assigning"):
        from service import nightly

        # "reading": the run has read its inputs and scored, before its pins are added;
        # "assigning": candidates are scored, before the plan is made. Pausing there
        # (rather than killing when the log line appears) keeps the kill inside the
        # stage however fast the machine finishes a small run.
        if stage == "reading":

            def after_scoring(run_id: str, candidates: int) -> None:
                _pause(stage)

            nightly.after_scoring = after_scoring
        else:
            plan = nightly.plan_placements

            def pause_then_plan(*args, **kwargs):
                _pause(stage)
                return plan(*args, **kwargs)

            nightly.plan_placements = pause_then_plan
    elif stage == "writing":
        from service import nightly

        nightly.PLAN_BATCH = 2

        def before_commit(run_id: str, written: int) -> None:
            if written >= 4:
                _pause(stage)

        nightly.before_plan_commit = before_commit
    elif stage == "importing":
        from service import importer

        upsert, written = importer.upsert, []

        def upsert_then_pause(session, name, frame, **kwargs):
            result = upsert(session, name, frame, **kwargs)
            written.append(name)
            if len(written) == 2:
                _pause(stage)
            return result

        importer.upsert = upsert_then_pause
    from service.cli import app

    app(args=args, prog_name="jobmatch")


if __name__ == "__main__":
    main()
