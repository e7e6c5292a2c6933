"""Fresh corpora: the cc, python and arxiv_math pipelines on datatrove (``compressiq collect``)."""
