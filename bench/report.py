"""What every benchmark entry point does around its measurement: a work folder (kept when the
caller names one, else a temporary one removed afterwards) and one JSON document printed."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def run_and_print(work: Path | None, prefix: str, measure: Callable[[Path], Any]) -> None:
    folder = work or Path(tempfile.mkdtemp(prefix=prefix))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        report = measure(folder)
    finally:
        if work is None:
            shutil.rmtree(folder, ignore_errors=True)
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
