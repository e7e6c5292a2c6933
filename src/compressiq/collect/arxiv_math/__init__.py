"""The arxiv_math subset: arXiv LaTeX e-prints as Markdown with TeX math, read from archives in memory.

Importing a subset imports datatrove: ``compressiq.collect`` imports it only when a build starts.
"""

from compressiq.collect.arxiv_math.eprints import cleaners, reader

__all__ = ["cleaners", "reader"]
