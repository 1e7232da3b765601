"""A small XML writer whose output is already in Canonical XML 1.0 form (inclusive, without comments).

Why it exists: signing needs the C14N bytes of the document. Building an lxml tree element by element,
canonicalising it and serialising it again took about three quarters of the time per document
(bench/ubl_sign). Writing the canonical form directly lets the signer digest the bytes as they are,
with no tree and no second serialisation.

The C14N 1.0 rules this writer keeps (W3C REC-xml-c14n-20010315 §2.3, §5), and which nothing else in
the package has to know about:
- UTF-8, no XML declaration, no self-closing tags (``<a></a>``), no whitespace between elements;
- every namespace declaration on the root element, default namespace first, then sorted by prefix;
- attributes are unprefixed here and sorted by name; values in double quotes with ``& < " TAB LF CR``
  escaped as ``&amp; &lt; &quot; &#x9; &#xA; &#xD;``;
- text with ``& < > CR`` escaped as ``&amp; &lt; &gt; &#xD;``.
Characters XML 1.0 forbids raise ValueError (as lxml does), so the output is always well formed.
tests/pe/test_pe_ubl.py checks that lxml's own C14N of every document we build equals our bytes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# Anything that needs escaping or is not allowed in XML 1.0 at all; most of our texts have none of it.
_TEXT_SPECIAL = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ATTR_SPECIAL = re.compile('[&<"\t\n\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]')
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#xD;"})
_ATTR_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", '"': "&quot;", "\t": "&#x9;", "\n": "&#xA;", "\r": "&#xD;"})


def _check_allowed(value: str) -> None:
    bad = _FORBIDDEN.search(value)
    if bad:
        raise ValueError(f"texto con un carácter no permitido en XML (U+{ord(bad.group()):04X}): {value[:40]!r}")


def escape_text(value: str) -> str:
    if not _TEXT_SPECIAL.search(value):
        return value
    _check_allowed(value)
    return value.translate(_TEXT_ESCAPES)


def escape_attr(value: str) -> str:
    if not _ATTR_SPECIAL.search(value):
        return value
    _check_allowed(value)
    return value.translate(_ATTR_ESCAPES)


def namespace_declarations(namespaces: Mapping[str | None, str]) -> str:
    """` xmlns="…" xmlns:a="…"` in C14N order (default first, then by prefix)."""
    ordered = sorted(namespaces.items(), key=lambda item: (item[0] is not None, item[0] or ""))
    return "".join(
        f' xmlns="{escape_attr(uri)}"' if prefix is None else f' xmlns:{prefix}="{escape_attr(uri)}"'
        for prefix, uri in ordered
    )


def _attributes(attrs: Mapping[str, str]) -> str:
    if len(attrs) == 1:  # the usual case (currencyID, schemeID…): nothing to sort
        [(name, value)] = attrs.items()
        return f' {name}="{escape_attr(value)}"'
    return "".join(f' {name}="{escape_attr(attrs[name])}"' for name in sorted(attrs))


class CanonicalWriter:
    """Writes elements in document order: ``leaf`` for a text element, ``open``…``close`` (or
    ``with writer.open(tag):``) for one with children. Tags are qualified names (``cbc:ID``) whose
    prefixes are among the root's ``namespaces``."""

    def __init__(self, root_tag: str, namespaces: Mapping[str | None, str], **attrs: str) -> None:
        self.namespaces = dict(namespaces)
        self._parts: list[str] = [f"<{root_tag}{namespace_declarations(namespaces)}{_attributes(attrs)}>"]
        self._open: list[str] = [root_tag]

    @classmethod
    def fragment(cls) -> CanonicalWriter:
        """A writer for a piece of a document (no root, no namespace declarations): render a block
        that is the same in many documents once, then insert it with `raw`."""
        writer = cls.__new__(cls)
        writer.namespaces, writer._parts, writer._open = {}, [], []
        return writer

    def raw(self, fragment: str) -> None:
        """Insert what a `fragment()` writer returned from `text()`: canonical already."""
        self._parts.append(fragment)

    def text(self) -> str:
        if self._open:
            raise ValueError(f"elementos sin cerrar: {self._open}")
        return "".join(self._parts)

    def open(self, tag: str, **attrs: str) -> CanonicalWriter:
        self._parts.append(f"<{tag}{_attributes(attrs)}>" if attrs else f"<{tag}>")
        self._open.append(tag)
        return self

    def close(self) -> None:
        self._parts.append(f"</{self._open.pop()}>")

    def __enter__(self) -> CanonicalWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._parts.append(f"</{self._open.pop()}>")  # = self.close(), without a call: this runs a lot

    def leaf(self, tag: str, text: str = "", **attrs: str) -> None:
        if attrs:
            self._parts.append(f"<{tag}{_attributes(attrs)}>{escape_text(text)}</{tag}>")
        else:
            self._parts.append(f"<{tag}>{escape_text(text)}</{tag}>")

    def finish(self) -> bytes:
        """The canonical bytes; closes whatever is still open, the root included."""
        while self._open:
            self.close()
        return "".join(self._parts).encode()
