"""The one table renderer: rows of records as an aligned terminal table, CSV, or Markdown.

Terminal and Markdown show floats to four decimals and an empty cell as a dash; CSV keeps every value
as it is (full precision, empty stays empty), for scripts. Markdown escapes ``|`` inside cells.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence

FORMATS = ("table", "csv", "markdown")
MISSING = "–"

Row = Mapping[str, object]


def render(rows: Sequence[Row], fmt: str = "table", columns: Sequence[str] = ("model",)) -> str:
    """``rows`` (all with the same keys) in ``fmt``; ``columns`` heads an empty table.

    Example: ``render([{"model": "a", "bpc": 0.81234}])`` is ``"model  bpc\\na      0.8123"``.
    """
    head = list(rows[0]) if rows else list(columns)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=head, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue().removesuffix("\n")
    cells = [[_cell(r[h]) for h in head] for r in rows]
    if fmt == "markdown":
        lines = [head, ["---"] * len(head), *cells]
        return "\n".join("| " + " | ".join(c.replace("|", "\\|") for c in line) + " |" for line in lines)
    widths = [max([len(h), *(len(c[i]) for c in cells)]) for i, h in enumerate(head)]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip() for line in [head, *cells])


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return MISSING if value is None or value == "" else str(value)
