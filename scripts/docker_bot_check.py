"""Run the built image as the Telegram bot against the tests' Bot API stand-in.

Measures start-to-ready (``docker run`` -> the bot's first ``getUpdates``), answers one injected
question, checks ``quoth health`` inside the container, reads the server's RSS, then stops it
with SIGTERM. Prints one JSON document; exits non-zero when anything is off.

    python scripts/docker_bot_check.py IMAGE INDEX_DIR CORPUS_DIR [--memory 512m]

With ``--memory`` the container runs under that limit with no swap (``docker run --memory``,
``--memory-swap`` the same): it must answer and not be killed, and the cgroup's peak is
reported beside the server's RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.telegram_stand_in import BotApiStandIn

TOKEN = "4242:docker-smoke-token"
USER = 5151
QUESTION = "Which Turkish naval ship arrived in Karachi?"
EXPECTED = "Büyükada"


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


def rss_mb(container: str) -> dict[str, float]:
    status = docker("exec", container, "cat", "/proc/1/status").stdout
    fields = {line.split(":")[0]: line.split()[1] for line in status.splitlines() if "kB" in line}
    return {
        "rss_mb": round(int(fields["VmRSS"]) / 1024, 1),
        "rss_anonymous_mb": round(int(fields["RssAnon"]) / 1024, 1),
        "rss_file_backed_mb": round(int(fields["RssFile"]) / 1024, 1),
    }


PEAK_FILES = (
    "/sys/fs/cgroup/memory.peak",  # cgroup v2, Linux 5.19 and later
    "/sys/fs/cgroup/memory/memory.max_usage_in_bytes",  # cgroup v1
)


def cgroup_peak_mb(container: str) -> float | None:
    """The container's peak memory as its cgroup counts it, None where it is not kept."""
    for path in PEAK_FILES:
        peak = docker("exec", container, "cat", path, check=False)
        if peak.returncode == 0 and peak.stdout.strip().isdigit():
            return round(int(peak.stdout) / 1024 / 1024, 1)
    return None


async def main(
    image: str, index_dir: Path, corpus_dir: Path, memory: str | None, expected: str
) -> dict[str, object]:
    server = BotApiStandIn(TOKEN)
    root = await server.start()
    started = time.perf_counter()
    limit = ["--memory", memory, "--memory-swap", memory] if memory else []
    container = docker(
        "run", "-d", "--network", "host", *limit,
        "-e", f"QUOTH_TELEGRAM_TOKEN={TOKEN}",
        "-e", f"QUOTH_TELEGRAM_API_URL={root}",
        "-v", f"{corpus_dir}:/data/corpus:ro",
        "-v", f"{index_dir}:/data/index",
        image,
    ).stdout.strip()  # fmt: skip
    try:
        while not any(method == "getUpdates" for method, _ in server.calls):
            if time.perf_counter() - started > 120:
                raise TimeoutError("the bot did not start polling within 120 s")
            await asyncio.sleep(0.02)
        ready = time.perf_counter() - started
        asked = time.perf_counter()
        reply = await server.reply_to(server.push_message(USER, USER, QUESTION), timeout=60)
        answered_ms = (time.perf_counter() - asked) * 1000
        if expected not in reply.text:
            raise AssertionError(f"unexpected reply: {reply.text[:300]}")
        for _ in range(10):  # a few more questions, as a bot answers them
            await server.reply_to(server.push_message(USER, USER, QUESTION), timeout=60)
        await asyncio.sleep(0.5)  # let the first heartbeat land
        health = docker("exec", container, "quoth", "health", check=False)
        if health.returncode != 0:
            raise AssertionError(f"quoth health failed: {health.stderr.strip()}")
        measured: dict[str, object] = {**rss_mb(container)}
        if memory:
            measured |= {"memory_limit": memory, "cgroup_peak_mb": cgroup_peak_mb(container)}
        stopped = docker("stop", "-t", "20", container)
        code = int(docker("inspect", "-f", "{{.State.ExitCode}}", container).stdout.strip())
        killed = docker("inspect", "-f", "{{.State.OOMKilled}}", container).stdout.strip()
        if killed == "true":
            raise AssertionError(f"the bot was killed for memory under --memory {memory}")
        logs = docker("logs", container, check=False)
        output = logs.stdout + logs.stderr
        if code != 0 or stopped.returncode != 0:
            raise AssertionError(f"the bot exited with {code} on SIGTERM:\n{output[-2000:]}")
        if TOKEN.split(":")[1] in output:
            raise AssertionError("the bot token appeared in the container's logs")
        return {
            "start_to_ready_s": round(ready, 2),
            "first_answer_ms": round(answered_ms, 1),
            "health": health.stdout.strip(),
            **measured,
        }
    finally:
        docker("rm", "-f", container, check=False)
        await server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("image")
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("corpus_dir", type=Path)
    parser.add_argument("--memory", help="docker run --memory, e.g. 512m")
    parser.add_argument("--expect", default=EXPECTED, help="text the first reply must hold")
    args = parser.parse_args()
    found = asyncio.run(main(args.image, args.index_dir, args.corpus_dir, args.memory, args.expect))
    print(json.dumps(found, indent=2))
