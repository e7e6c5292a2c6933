"""The python subset: Python files of git repositories, CodeParrot filters, SPDX licences.

Importing a subset imports datatrove: ``compressiq.collect`` imports it only when a build starts.
"""

from compressiq.collect.python.code import cleaners, reader
from compressiq.collect.python.licences import spdx_id

__all__ = ["cleaners", "reader", "spdx_id"]
