"""Compile the message catalogues (``src/quoth/locale/*/LC_MESSAGES/quoth.po``) into the
``.mo`` files gettext reads; run after editing a ``.po`` file.

    .venv/bin/python scripts/compile_messages.py [--check]

``--check`` compiles in memory and exits 1 when a committed ``.mo`` differs from its ``.po``
(the test suite runs it). babel does the reading and writing (it is installed with quoth's
dependencies; the image never compiles, it only reads the ``.mo`` files).
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE = Path(__file__).resolve().parent.parent / "src" / "quoth" / "locale"


def compiled(po: Path) -> bytes:
    with po.open("rb") as source:
        catalogue = read_po(source)
    out = io.BytesIO()
    write_mo(out, catalogue)
    return out.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    stale = []
    for po in sorted(LOCALE.glob("*/LC_MESSAGES/quoth.po")):
        mo = po.with_suffix(".mo")
        data = compiled(po)
        if args.check:
            if not mo.is_file() or mo.read_bytes() != data:
                stale.append(str(mo))
        else:
            mo.write_bytes(data)
            print(f"wrote {mo}")
    if stale:
        print("stale catalogues (run scripts/compile_messages.py):", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
