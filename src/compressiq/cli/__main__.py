"""``python -m compressiq.cli``: the same command as ``compressiq``."""

from compressiq.cli import main

raise SystemExit(main())
