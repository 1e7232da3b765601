"""Jumpseller's order as it arrives in `order_paid` webhooks (`{"order": {...}}`, the Orders API shape).

Lenient on purpose: unknown fields are kept, amounts may be floats or strings, most fields optional.
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pasarela.providers.cl.money import to_decimal


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)


class Tax(_Lenient):
    id: Any = None
    name: str | None = None
    rate: Decimal | None = None
    fixed: Decimal | None = None
    tax_on_product_price: bool | None = None


class Product(_Lenient):
    id: Any = None
    variant_id: Any = None
    sku: str | None = None
    name: str = ""
    qty: Decimal = Decimal(1)
    price: Decimal = Decimal(0)
    discount: Decimal = Decimal(0)
    taxes: list[Tax] | None = None

    @field_validator("qty", "price", "discount", mode="before")
    @classmethod
    def _money(cls, value: Any) -> Decimal:
        return to_decimal(value)

    @property
    def exempt(self) -> bool:
        """Decision (see docs/chile.md): a product is exento only when Jumpseller lists its taxes
        explicitly and none has a positive rate. Missing `taxes` means the store's IVA applies."""
        if self.taxes is None:
            return False
        return all((t.rate or Decimal(0)) <= 0 for t in self.taxes)


class Address(_Lenient):
    name: str | None = None
    surname: str | None = None
    taxid: str | None = None
    address: str | None = None
    street_number: str | None = None
    complement: str | None = None
    city: str | None = None
    municipality: str | None = None
    region: str | None = None
    country_code: str | None = None


class Customer(_Lenient):
    id: Any = None
    email: str | None = None
    fullname: str | None = None
    phone: str | None = None


class AdditionalField(_Lenient):
    label: str = ""
    value: str | None = None


class BillingInformation(_Lenient):
    business_activity: str | None = None
    company_name: str | None = None
    taxpayer_type: str | None = None


class Order(_Lenient):
    id: int | str
    status: str | None = None
    status_enum: str | None = None
    currency: str = "CLP"
    created_at: str | None = None
    completed_at: str | None = None
    subtotal: Decimal = Decimal(0)
    tax: Decimal = Decimal(0)
    shipping: Decimal = Decimal(0)
    shipping_tax: Decimal = Decimal(0)
    discount: Decimal = Decimal(0)
    shipping_discount: Decimal = Decimal(0)
    gift_cards_discount: Decimal = Decimal(0)
    total: Decimal = Decimal(0)
    customer: Customer = Field(default_factory=Customer)
    billing_address: Address = Field(default_factory=Address)
    shipping_address: Address = Field(default_factory=Address)
    products: list[Product] = Field(default_factory=list)
    additional_fields: list[AdditionalField] = Field(default_factory=list)
    billing_information: BillingInformation | None = None

    @field_validator(
        "subtotal",
        "tax",
        "shipping",
        "shipping_tax",
        "discount",
        "shipping_discount",
        "gift_cards_discount",
        "total",
        mode="before",
    )
    @classmethod
    def _money(cls, value: Any) -> Decimal:
        return to_decimal(value)

    @field_validator("customer", "billing_address", "shipping_address", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    def field_value(self, *labels: str) -> str | None:
        """A checkout custom field by label, matched case- and accent-insensitively."""
        wanted = {fold(label) for label in labels}
        for extra in self.additional_fields:
            if fold(extra.label) in wanted and extra.value not in (None, ""):
                return str(extra.value).strip()
        return None


def fold(text: str) -> str:
    """'Razón  Social' → 'razon social'."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.lower().split())
