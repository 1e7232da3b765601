"""SUNAT catalogs used by the builder and the validators (reference §5.3)."""

from __future__ import annotations

from dataclasses import dataclass

# Catalog 01: document types we issue.
DOC_TYPES = {
    "01": "FACTURA ELECTRÓNICA",
    "03": "BOLETA DE VENTA ELECTRÓNICA",
    "07": "NOTA DE CRÉDITO ELECTRÓNICA",
    "08": "NOTA DE DÉBITO ELECTRÓNICA",
}
ROOT_OF_TYPE = {"01": "Invoice", "03": "Invoice", "07": "CreditNote", "08": "DebitNote"}

# Catalog 06: identity documents. "-" is accepted by SUNAT for small "varios" boletas [U].
IDENTITY_DOCS = {
    "0": "DOC. TRIB. NO DOM. SIN RUC",
    "1": "DNI",
    "4": "CARNET DE EXTRANJERÍA",
    "6": "RUC",
    "7": "PASAPORTE",
    "A": "CÉDULA DIPLOMÁTICA",
    "B": "DOC. IDENT. PAÍS RESIDENCIA",
    "C": "TIN",
    "D": "IN",
    "E": "TAM",
    "F": "PTP",
    "G": "SALVOCONDUCTO",
    "-": "VARIOS",
}


@dataclass(frozen=True)
class Tributo:
    """Catalog 05 row: what goes in cac:TaxScheme."""

    code: str
    name: str
    type_code: str


TRIBUTOS = {
    "1000": Tributo("1000", "IGV", "VAT"),
    "1016": Tributo("1016", "IVAP", "VAT"),
    "2000": Tributo("2000", "ISC", "EXC"),
    "7152": Tributo("7152", "ICBPER", "OTH"),
    "9995": Tributo("9995", "EXP", "FRE"),
    "9996": Tributo("9996", "GRA", "FRE"),
    "9997": Tributo("9997", "EXO", "VAT"),
    "9998": Tributo("9998", "INA", "FRE"),
    "9999": Tributo("9999", "OTROS", "OTH"),
}

# Catalog 07: IGV affectation → tributo. 17 (IVAP) is left out of v1.
GRAVADO = "10"
FREE_TAXED = {"11", "12", "13", "14", "15", "16"}  # gratuito gravado: IGV computed, not charged
FREE_UNTAXED = {"21", "31", "32", "33", "34", "35", "36"}
AFFECTATIONS = {GRAVADO, *FREE_TAXED, *FREE_UNTAXED, "20", "30", "40"}


def tributo_of_affectation(code: str) -> Tributo:
    if code == GRAVADO:
        return TRIBUTOS["1000"]
    if code in FREE_TAXED or code in FREE_UNTAXED:
        return TRIBUTOS["9996"]
    return TRIBUTOS[{"20": "9997", "30": "9998", "40": "9995"}[code]]


def is_free(code: str) -> bool:
    return code in FREE_TAXED or code in FREE_UNTAXED


# UN/ECE 5305 tax category letter per tributo.
TAX_CATEGORY = {"1000": "S", "1016": "S", "9995": "G", "9996": "Z", "9997": "E", "9998": "O", "7152": "S", "2000": "S"}

CREDIT_NOTE_REASONS = {
    "01": "Anulación de la operación",
    "02": "Anulación por error en el RUC",
    "03": "Corrección por error en la descripción",
    "04": "Descuento global",
    "05": "Descuento por ítem",
    "06": "Devolución total",
    "07": "Devolución por ítem",
    "08": "Bonificación",
    "09": "Disminución en el valor",
    "10": "Otros conceptos",
}
DEBIT_NOTE_REASONS = {"01": "Intereses por mora", "02": "Aumento en el valor", "03": "Penalidades/otros conceptos"}

SUMMARY_CONDITION = {"1": "adicionar", "2": "modificar", "3": "anular"}  # catalog 19
CURRENCIES = {"PEN", "USD", "EUR"}

LEGEND_AMOUNT_IN_WORDS = "1000"
LEGEND_FREE = "1002"
LEGEND_FREE_TEXT = "TRANSFERENCIA GRATUITA DE UN BIEN Y/O SERVICIO PRESTADO GRATUITAMENTE"
OPERATION_INTERNAL_SALE = "0101"  # catalog 51
