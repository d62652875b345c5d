"""Scheduled retraining entry point: unattended, gated, safe to re-run.

Run it from cron, Airflow or any scheduler. It is a thin layer over :func:`segml.workflow.retrain.retrain`:

    python pipelines/retrain.py --config configs/demo.yaml --data /data/latest [--cutoff 2025-06-30]

Exit codes (for the scheduler's alerting):
    0  challenger promoted, or this data + cutoff was already handled (idempotent re-run)
    1  a problem in the data or the config (messages on stderr name file, table, column or key)
    3  the challenger failed a gate: the champion keeps serving (not an error of the job)
    4  another retrain of the same model holds the lock
    130/143  stopped by SIGINT/SIGTERM: the run is marked KILLED, the champion untouched

A JSON line with the decision is printed on stdout so logs can be parsed.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from segml.config import load_config
from segml.errors import SegmlError
from segml.monitor.lock import LockHeld
from segml.workflow.retrain import retrain


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=None, help="YAML config (default: embedded)")
    parser.add_argument("--data", type=Path, default=None, help="data folder (generate layout)")
    parser.add_argument("--cutoff", default=None, help="treat this date as the end of the data")
    parser.add_argument("--dry-run", action="store_true", help="evaluate gates, register nothing")
    parser.add_argument("--force", action="store_true", help="retrain even if already done")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(args.config)
        if args.data is not None:
            config.data.dir = str(args.data.resolve())
        if args.cutoff is not None:
            config = config.with_cutoff(args.cutoff)
        outcome = retrain(config, dry_run=args.dry_run, force=args.force)
    except LockHeld as exc:
        print(json.dumps({"decision": "locked", "message": str(exc)}))
        return 4
    except KeyboardInterrupt as exc:  # SIGTERM from the scheduler, or Ctrl-C
        print(json.dumps({"decision": "interrupted", "message": str(exc) or "interrupted",
                          "killed_run": getattr(exc, "killed_run", None)}))
        return getattr(exc, "exit_code", 130)
    except SegmlError as exc:
        for problem in exc.problems:
            print(str(problem), file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "decision": "promoted" if outcome.promoted else "kept champion",
                "reused": outcome.reused,
                "run_id": outcome.run_id,
                "challenger_version": outcome.challenger_version,
                "champion_version": outcome.champion_version,
                "failed_gates": [g.name for g in outcome.gates if not g.passed],
                "message": outcome.message,
            }
        )
    )
    for warning in outcome.warnings:  # data and readiness warnings, once, at the end
        print(str(warning), file=sys.stderr)
    if outcome.promoted or outcome.reused or args.dry_run:
        return 0
    return 3


if __name__ == "__main__":
    sys.exit(main())
