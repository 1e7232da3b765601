# Types of the C extension built from _cfdiscan.c (see that file for what it reads and declines).
from collections.abc import Sequence

Attributes = dict[str, str]

def configure(names: Sequence[str]) -> None: ...
def scan_comprobante(
    data: bytes,
) -> (
    tuple[
        str,
        str,
        Attributes,
        Attributes | None,
        Attributes | None,
        Attributes | None,
        Attributes | None,
        list[tuple[Attributes, list[Attributes]]] | None,
    ]
    | None
): ...
