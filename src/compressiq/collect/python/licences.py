"""The SPDX id of a licence text (a repository's LICENSE or COPYING file), read from distinctive phrases.

The ids are those GitHub's licence API reports (``GPL-3.0``, not ``GPL-3.0-only``), so that an offline
collection and an online one label the same repository alike. A text matching none is ``None``: unknown,
never guessed.
"""

from __future__ import annotations

import re

# Each licence's own phrase, as it stands in its canonical text (lower case, spaces collapsed). The GPL
# family is told apart by its title, which names the version; a GPL text also mentions the Lesser GPL,
# so the phrase found first in the file wins.
PHRASES = {
    "AGPL-3.0": r"gnu affero general public license,? version 3",
    "LGPL-3.0": r"gnu lesser general public license,? version 3",
    "LGPL-2.1": r"gnu lesser general public license,? version 2\.1",
    "LGPL-2.0": r"gnu library general public license,? version 2",
    "GPL-3.0": r"gnu general public license,? version 3",
    "GPL-2.0": r"gnu general public license,? version 2",
    "MPL-2.0": r"mozilla public license,? (?:version|v\.?) ?2\.0",
    "Apache-2.0": r"apache license,? version 2\.0|www\.apache\.org/licenses/",
    "MIT": r"permission is hereby granted, free of charge, to any person obtaining a copy",
    "ISC": r"permission to use, copy, modify, and(?:/or)? distribute this software for any purpose",
    "Unlicense": r"this is free and unencumbered software released into the public domain",
    "BSD": r"redistribution and use in source and binary forms",
}
BSD_3_CLAUSE = re.compile(r"neither the name|names of (?:its|the) contributors")
LICENCE_FILE = re.compile(r"(?:licen[cs]e|copying)(?:[.\-_][\w.\-]*)?", re.IGNORECASE)


def is_licence_file(name: str) -> bool:
    """``LICENSE``, ``LICENCE.md``, ``COPYING``, ``LICENSE-MIT``…: where a repository states its licence."""
    return LICENCE_FILE.fullmatch(name) is not None


def spdx_id(text: str) -> str | None:
    """The licence a text states first: "MIT License\\n\\nCopyright (c) 2025 …\\nPermission is hereby
    granted, free of charge, to any person obtaining a copy…" → ``"MIT"``.

    BSD texts are BSD-3-Clause when they carry the non-endorsement clause ("Neither the name of…"),
    else BSD-2-Clause.
    """
    flat = " ".join(text.lower().replace("*", " ").replace("#", " ").split())
    found = [(m.start(), name) for name, phrase in PHRASES.items() if (m := re.search(phrase, flat))]
    if not found:
        return None
    _, name = min(found)
    if name == "BSD":
        return "BSD-3-Clause" if BSD_3_CLAUSE.search(flat) else "BSD-2-Clause"
    return name
