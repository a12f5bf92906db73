"""Run one training job in its own process and print its metrics as the last stdout line.

    python -m services.trainer.worker --dataset DIR --base DIR --out DIR --config-json '{"max_steps": 8}'

The bus adapter starts this as a subprocess so its event loop keeps sending `in_progress()`
heartbeats while torch holds the CPU or GPU; it relays the `progress {json}` lines the worker writes
while training (services/trainer/progress.py) and reads the last stdout line as `TrainMetrics` JSON.
A non-zero exit status means the job failed (the traceback is on stderr).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from services.trainer.progress import progress_callback
from services.trainer.train import TrainConfig, train_adapter


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.trainer.worker", description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", type=Path, required=True, help="the judge's dataset directory")
    parser.add_argument("--base", type=Path, required=True, help="local base model directory")
    parser.add_argument("--out", type=Path, required=True, help="where the adapter is written")
    parser.add_argument("--config-json", default="{}", help="TrainConfig fields as JSON")
    parser.add_argument("--init-adapter", type=Path, default=None,
                        help="continue training this adapter (the champion's) instead of a fresh one")
    parser.add_argument("--progress-every", type=float, default=2.0,
                        help="seconds between two progress lines on stdout (default: 2)")
    args = parser.parse_args(argv)
    from shared.models import quiet_libraries

    quiet_libraries()  # before trl imports datasets: its "Map" bars would fill the log with carriage returns
    config = TrainConfig.from_json(args.config_json)
    # The Trainer prints its logs; keep stdout for the lines the caller parses: progress, then metrics.
    stdout = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):
        metrics = train_adapter(args.dataset, args.base, args.out, config, init_adapter=args.init_adapter,
                                callbacks=[progress_callback(stdout, every=args.progress_every)])
    print(metrics.model_dump_json(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
