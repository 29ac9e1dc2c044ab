"""The readers, in detection order: the first that claims a directory reads it."""

from sitegen.readers import sidecar
from sitegen.readers.base import ReadContext, Reader

READERS: tuple[Reader, ...] = (sidecar,)

__all__ = ["READERS", "ReadContext", "Reader", "reader_named"]


def reader_named(name: str) -> Reader:
    for reader in READERS:
        if name == reader.NAME:
            return reader
    raise KeyError(name)
