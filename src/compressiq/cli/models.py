"""``compressiq models``: the model registry, built-in and the user's own."""

from __future__ import annotations

import argparse
from typing import Any

from compressiq.cli import options


def register(sub: Any) -> None:
    p = sub.add_parser("models", help="list the model registry")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from compressiq.core.registry import registry

    rows = [{"name": e.name, "licence": e.licence, "about": e.about or e.source} for e in registry().values()]
    print(options.table(rows))
    return 0
