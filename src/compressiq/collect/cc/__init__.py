"""The cc subset: Common Crawl WARC/WET records, main text, language id, quality rules, CCNet perplexity.

Importing a subset imports datatrove: ``compressiq.collect`` imports it only when a build starts.
"""

from compressiq.collect.cc.warc import cleaners, reader

__all__ = ["cleaners", "reader"]
