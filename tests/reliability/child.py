"""A ``jobmatch`` command run in a child process that stops where the parent test asks,
so that the test can kill it (SIGKILL) at a known stage.

``python child.py STAGE jobmatch-args...`` runs the command line; with STAGE
``writing`` a nightly run stops inside its final transaction once some plan rows are
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
    if stage == "writing":
        from service import nightly

        nightly.PLAN_BATCH = 2

        def before_commit(run_id: str, written: int) -> None:
            if written >= 4:
                _pause(stage)

        nightly._before_commit = before_commit
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
