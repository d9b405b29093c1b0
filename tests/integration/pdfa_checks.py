"""The requirements of ISO 19005-3 (PDF/A-3b) that apply to Hexagone's invoices, checked on the
file itself with pypdf and lxml (no PDF/A validator installs from the package archives)."""

from __future__ import annotations

import io

from lxml import etree
from pypdf import PdfReader

RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
NS = {
    "dc": "http://purl.org/dc/elements/1.1/",
    "pdf": "http://ns.adobe.com/pdf/1.3/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "pdfaid": "http://www.aiim.org/pdfa/ns/id/",
    "rdf": RDF[1:-1],
}


def _xmp_date_as_pdf(value: str) -> str:
    # 2026-04-01T00:05:00+00:00 -> D:20260401000500+00'00'
    date, _, rest = value.partition("T")
    clock, sign, tz = rest[:8], rest[8:9], rest[9:]
    return f"D:{date.replace('-', '')}{clock.replace(':', '')}{sign}{tz.replace(':', chr(39))}'"


def pdfa3b_problems(data: bytes) -> list[str]:
    problems = []
    if not data.startswith(b"%PDF-1.7"):
        problems.append(f"6.1.2 header is {data[:8]!r}, not %PDF-1.7")
    second = data.split(b"\n", 2)[1]
    if not (second.startswith(b"%") and sum(b > 127 for b in second) >= 4):
        problems.append("6.1.2 the header is not followed by a comment of four bytes above 127")
    reader = PdfReader(io.BytesIO(data))
    trailer, root = reader.trailer, reader.trailer["/Root"].get_object()
    if "/ID" not in trailer:
        problems.append("6.1.3 the trailer has no file identifier")
    if "/Encrypt" in trailer:
        problems.append("6.1.3 the file is encrypted")
    intents = [i.get_object() for i in root.get("/OutputIntents", [])]
    pdfa = [i for i in intents if i.get("/S") == "/GTS_PDFA1"]
    if not pdfa:
        problems.append("6.2.3 no GTS_PDFA1 OutputIntent")
    else:
        profile = pdfa[0]["/DestOutputProfile"].get_object()
        if profile.get("/N") != 3 or profile.get_data()[36:40] != b"acsp":
            problems.append("6.2.3 the OutputIntent's profile is not a 3-component ICC profile")
    for page in reader.pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            f = font.get_object()
            descendants = f.get("/DescendantFonts")
            f = descendants[0].get_object() if descendants else f
            descriptor = f.get("/FontDescriptor")
            if descriptor is None or not any(
                k in descriptor.get_object() for k in ("/FontFile", "/FontFile2", "/FontFile3")
            ):
                problems.append(f"6.2.11.4 font {f.get('/BaseFont')} is not embedded")
    meta = root["/Metadata"].get_object()
    if "/Filter" in meta:
        problems.append("6.6.2.1 the metadata stream is filtered")
    raw = meta.get_data()
    xmp = etree.fromstring(raw.split(b"?>", 1)[1].rsplit(b"<?xpacket", 1)[0])
    descriptions = list(xmp.iter(f"{RDF}Description"))
    if any(d.get(f"{RDF}about") is None for d in descriptions):
        problems.append("6.6.2.3 an rdf:Description has no rdf:about")

    def xmp_value(path: str) -> str | None:
        found = xmp.xpath(f"//{path}", namespaces=NS)
        if not found:
            return None
        node = found[0]
        items = node.xpath(".//rdf:li", namespaces=NS)
        return (items[0].text if items else node.text) or ""

    if (xmp_value("pdfaid:part"), xmp_value("pdfaid:conformance")) != ("3", "B"):
        problems.append("6.6.4 the XMP does not identify PDF/A-3b")
    info = reader.trailer.get("/Info")
    info = info.get_object() if info is not None else {}
    pairs = {
        "/Title": "dc:title",
        "/Author": "dc:creator",
        "/Subject": "dc:description",
        "/Keywords": "pdf:Keywords",
        "/Producer": "pdf:Producer",
        "/Creator": "xmp:CreatorTool",
        "/CreationDate": "xmp:CreateDate",
        "/ModDate": "xmp:ModifyDate",
    }
    for key, path in pairs.items():
        if key not in info:
            continue
        value = xmp_value(path)
        if value is not None and key.endswith("Date"):
            value = _xmp_date_as_pdf(value)
        if value != str(info[key]):
            problems.append(f"6.6.3 Info {key} = {info[key]!r} but XMP {path} = {value!r}")
    files = root.get("/Names", {}).get("/EmbeddedFiles", {}).get("/Names", [])
    specs = [s.get_object() for s in files[1::2]]
    af = [a.get_object() for a in root.get("/AF", [])]
    for spec in specs:
        if "/AFRelationship" not in spec or spec not in af:
            problems.append(f"6.8 embedded file {spec.get('/F')} lacks AFRelationship or is not in the catalog's AF")
        stream = spec["/EF"]["/F"].get_object()
        if "/Subtype" not in stream or "/ModDate" not in stream.get("/Params", {}):
            problems.append(f"6.8 embedded file {spec.get('/F')} lacks its MIME type or modification date")
    if not specs:
        problems.append("Factur-X: no embedded factur-x.xml")
    return problems
