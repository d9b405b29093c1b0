"""The invoice as a PDF (fpdf2) with its Factur-X XML embedded (``factur-x`` library, PDF/A-3
attachment ``factur-x.xml``, EN 16931 profile), and the legal mentions a French invoice carries."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from pathlib import Path
from typing import Any

from hexagone.billing import facturx

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
PRODUCER = "Hexagone"
KEYWORDS = "Factur-X, invoice"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
PDF_NS = "http://ns.adobe.com/pdf/1.3/"


def mentions(doc: dict[str, Any], late_penalty: str) -> list[tuple[str, str]]:
    """Legal mentions (art. 242 nonies A annexe II CGI; art. L441-9 and D441-5 code de commerce),
    as (UNTDID 4451 subject code, text) pairs, shared by the PDF and the XML."""
    out = [
        ("REG", "Opération : prestations de services (informatique en nuage)."),
        (
            "PMD",
            f"Échéance : {doc['due_at'][:10]}. En cas de retard de paiement, pénalités au taux de "
            f"{late_penalty} (art. L441-10 du code de commerce).",
        ),
        (
            "PMT",
            "Indemnité forfaitaire pour frais de recouvrement due en cas de retard : 40 € (art. D441-5 "
            "du code de commerce).",
        ),
        ("AAB", "Pas d'escompte pour paiement anticipé."),
    ]
    if doc["vat"]["note"]:
        out.append(("TXD", doc["vat"]["note"]))
    if doc.get("corrects_number"):
        out.append(("REG", f"Avoir rectifiant la facture n° {doc['corrects_number']}. Motif : {doc['reason']}"))
    return out


def _fonts(pdf: Any) -> tuple[str, bool]:
    regular, bold = FONT_DIR / "DejaVuSans.ttf", FONT_DIR / "DejaVuSans-Bold.ttf"
    if regular.exists() and bold.exists():
        pdf.add_font("DejaVu", "", str(regular))
        pdf.add_font("DejaVu", "B", str(bold))
        return "DejaVu", True
    return "Helvetica", False


def _party_lines(p: dict[str, str]) -> list[str]:
    lines = [p.get("legal_name") or p.get("name", "")]
    if p.get("address"):
        lines.append(p["address"])
    lines.append(f"Pays : {p.get('country', '')}")
    if p.get("siren") or p.get("siret"):
        lines.append(
            f"SIREN : {p.get('siren') or p['siret'][:9]}" + (f"  SIRET : {p['siret']}" if p.get("siret") else "")
        )
    if p.get("vat_id"):
        lines.append(f"N° TVA : {p['vat_id']}")
    return lines


def render(doc: dict[str, Any], late_penalty: str) -> bytes:
    """A plain PDF of the invoice (without the XML)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4", enforce_compliance="PDFA_3B")  # sRGB OutputIntent, embedded fonts, PDF 1.7
    pdf.set_creation_date(dt.datetime.fromisoformat(doc["issued_at"]))  # the same bytes at every download
    pdf.set_producer(PRODUCER)
    family, unicode_ok = _fonts(pdf)

    def t(text: str) -> str:
        return text if unicode_ok else text.replace("€", "EUR").encode("latin-1", "replace").decode("latin-1")

    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    title = "AVOIR" if doc["kind"] == "credit_note" else "FACTURE"
    pdf.set_font(family, "B", 16)
    pdf.cell(0, 10, t(f"{title} n° {doc['number']}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", 9)
    pdf.cell(
        0,
        5,
        t(
            f"Date : {doc['issued_at'][:10]}   Période : {doc['period']['start'][:10]} – "
            f"{facturx._last_day(doc['period']['end'])}   Échéance : {doc['due_at'][:10]}"
        ),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(3)
    y = pdf.get_y()
    for x, label, party in ((10, "Émetteur", doc["issuer"]), (110, "Client", doc["account"])):
        pdf.set_xy(x, y)
        pdf.set_font(family, "B", 9)
        pdf.cell(90, 5, t(label), new_x="LEFT", new_y="NEXT")
        pdf.set_font(family, "", 9)
        for line in _party_lines(party):
            pdf.cell(90, 5, t(line[:70]), new_x="LEFT", new_y="NEXT")
    pdf.set_xy(10, max(pdf.get_y(), y + 35))
    widths = (8, 74, 40, 24, 22, 22)
    pdf.set_font(family, "B", 8)
    for w, h in zip(widths, ("#", "Désignation", "Client / projet", "Quantité", "PU HT", "Montant HT"), strict=True):
        pdf.cell(w, 6, t(h), border=1)
    pdf.ln()
    pdf.set_font(family, "", 7)
    for ln in doc["lines"]:
        cells = (
            str(ln["position"]),
            f"{ln['description']} – {ln['region_name']}",
            f"{ln['customer_name']} / {ln['project_name']}"[:30],
            f"{ln['quantity']} {ln['unit']}",
            ln["unit_price"],
            ln["amount"],
        )
        for w, c in zip(widths, cells, strict=True):
            pdf.cell(w, 5, t(str(c)[:60]), border=1, align="R" if w in (24, 22) else "L")
        pdf.ln()
    pdf.ln(2)
    tot = doc["totals"]
    rows = [
        ("Total HT", tot["net"]),
        (f"TVA {doc['vat']['rate']} % ({doc['vat']['category']})", tot["vat"]),
        ("Total TTC", tot["gross"]),
    ]
    if tot["prepaid"] not in ("0", "0.00"):
        rows.append(("Crédit prépayé déduit", tot["prepaid"]))
    rows.append(("Net à payer", tot["due"]))
    for label, value in rows:
        pdf.set_x(120)
        pdf.set_font(family, "B" if label in ("Total TTC", "Net à payer") else "", 9)
        pdf.cell(50, 6, t(label), border=1)
        pdf.cell(30, 6, t(f"{value} {doc['currency']}"), border=1, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font(family, "", 7)
    for _, text in mentions(doc, late_penalty):
        pdf.multi_cell(0, 4, t(text), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def facturx_pdf(doc: dict[str, Any], late_penalty: str) -> bytes:
    """The PDF with its Factur-X XML embedded (validated against the XSD on the way)."""
    from facturx import generate_from_binary

    xml = facturx.build(doc, mentions(doc, late_penalty))
    meta = {
        "author": doc["issuer"].get("legal_name", ""),
        "keywords": KEYWORDS,
        "title": f"{doc['issuer'].get('legal_name', '')}: {doc['number']}",
        "subject": f"Invoice {doc['number']}",
    }
    out = generate_from_binary(
        render(doc, late_penalty),
        xml,
        flavor="factur-x",
        level="en16931",
        check_xsd=True,
        pdf_metadata=meta,
        lang="fr-FR",
        xmp_compression=False,
    )
    return _pdfa3(bytes(out), dt.datetime.fromisoformat(doc["issued_at"]), xml)


def _pdfa3(data: bytes, issued_at: dt.datetime, xml: bytes) -> bytes:
    """Finish what ``factur-x`` leaves short of PDF/A-3b: a PDF 1.7 header, ``rdf:about`` on every
    XMP description (ISO 19005-3, 6.6.2.3.1 via XMP), one producer and one set of dates in both the
    Info dictionary and the XMP (6.6.3), all taken from the invoice — dates and the file
    identifier too — so that every download of an invoice is the same bytes."""
    from lxml import etree
    from pypdf import PdfWriter
    from pypdf.generic import ArrayObject, ByteStringObject, NameObject, TextStringObject

    writer = PdfWriter(clone_from=io.BytesIO(data))
    writer.pdf_header = b"%PDF-1.7"
    file_id = ByteStringObject(hashlib.sha256(xml).digest()[:16])
    writer._ID = ArrayObject([file_id, file_id])
    stamp = issued_at.astimezone(dt.UTC)
    pdf_date = stamp.strftime("D:%Y%m%d%H%M%S+00'00'")
    xmp_date = stamp.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    root: Any = writer._root_object
    meta: Any = root["/Metadata"].get_object()
    tree = etree.fromstring(meta.get_data().split(b"?>", 1)[1].rsplit(b"<?xpacket", 1)[0])
    for desc in tree.iter(f"{{{RDF}}}Description"):
        desc.set(f"{{{RDF}}}about", "")
        for node in desc:
            name = etree.QName(node).localname
            if name in ("CreateDate", "ModifyDate", "MetadataDate"):
                node.text = xmp_date
            elif name == "Producer":
                node.text = PRODUCER
                keywords = etree.SubElement(desc, f"{{{PDF_NS}}}Keywords")  # the Info's, mirrored
                keywords.text = KEYWORDS
    packet = (
        b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        + etree.tostring(tree, encoding="utf-8")
        + b'\n<?xpacket end="w"?>'
    )
    meta.set_data(packet)
    writer.add_metadata({"/Producer": PRODUCER, "/CreationDate": pdf_date, "/ModDate": pdf_date})
    for spec in root["/Names"]["/EmbeddedFiles"]["/Names"][1::2]:
        params = spec.get_object()["/EF"]["/F"].get_object()["/Params"]
        params[NameObject("/ModDate")] = TextStringObject(pdf_date)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()
