"""The client against the simulator over real HTTP on loopback (no ledger): every service, typed
results and typed errors carrying Facti's msg."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
import uvicorn

from pasarela.core.errors import MaybeSent, SurelyNotSent
from pasarela.core.transport import ProviderHTTP
from pasarela.providers.mx.facti.client import FactiClient
from pasarela.providers.mx.facti.errors import FactiAuthError, FactiRejected
from pasarela.providers.mx.facti.simulator import create_app
from pasarela.providers.mx.identifiers import is_valid_clabe

CLIENT_ID = "simfacti0client0id00000000000001"
API_KEY = "simfacti0api0key0000000000000001"
RFC = "EKU9003173C9"


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(None), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


@pytest.fixture
def facti(sim_url: str) -> Iterator[FactiClient]:
    httpx.post(f"{sim_url}/_reset")
    httpx.delete(f"{sim_url}/_faults")
    http = ProviderHTTP("facti", timeout=5, secrets=[API_KEY])
    yield FactiClient(http, sim_url, CLIENT_ID, API_KEY)
    http.close()


def request(**extra: object) -> dict:
    return {
        "folio": "1",
        "from_rfc": RFC,
        "to_client_name": "Cliente",
        "to_email": "c@d.mx",
        "total_amount": "242.831",
        **extra,
    }


def test_new_request_defaults_rounding_and_references(facti: FactiClient) -> None:
    created = facti.new_request(request())
    assert created.total_amount == Decimal("242.84")
    assert created.limit_payment_date  # today + 1 month by default
    kinds = {r.payment_type: r for r in created.references}
    assert set(kinds) == {"stp", "bank", "paypal"}
    assert kinds["stp"].reference == str(created.request_id)
    assert kinds["stp"].stp_cuenta_clabe.startswith("646180") and kinds["stp"].clabe_valid
    assert kinds["bank"].bank_name == "Santander" and kinds["bank"].bank_agreement_number == "4381"
    details = facti.get_payment(created.request_id)
    assert details.status == 0 and details.total_amount == Decimal("242.84")


def test_payment_ways_restrict_references(facti: FactiClient) -> None:
    created = facti.new_request(request(payment_ways_ids=[1]))
    assert [r.payment_type for r in created.references] == ["stp"]
    with pytest.raises(FactiRejected, match="forma de pago 77"):
        facti.new_request(request(payment_ways_ids=[77]))


def test_simulator_enforces_grouping_rules(facti: FactiClient) -> None:
    with pytest.raises(FactiRejected, match="folio debe tener el valor fijo 1"):
        facti.new_request(request(folio="5", folios=["1", "2"], total_amounts=["100", "142.831"]))
    with pytest.raises(FactiRejected, match="suma de total_amounts"):
        facti.new_request(request(folios=["1", "2"], total_amounts=["100", "100"]))
    created = facti.new_request(request(folios=["1", "2"], series=["A", ""], total_amounts=["100", "142.831"]))
    details = facti.get_payment(created.request_id)
    assert details.group_parent and details.count_childs == 2


def test_errors_carry_facti_msg(facti: FactiClient, sim_url: str) -> None:
    with pytest.raises(FactiRejected, match="to_client_name es requerido"):
        facti.new_request(request(to_client_name=""))
    bad = FactiClient(facti.http, sim_url, CLIENT_ID, "wrong-key-000000")
    with pytest.raises(FactiAuthError, match="Credenciales"):
        bad.get_payment(1)


def test_clabe_is_stable_per_company_and_client(facti: FactiClient) -> None:
    first = facti.stp_client_clabe(1, "uno@cliente.mx").accounts[0].stp_cuenta_clabe
    again = facti.stp_client_clabe(1, "UNO@cliente.mx").accounts[0].stp_cuenta_clabe
    other = facti.stp_client_clabe(1, "dos@cliente.mx").accounts[0].stp_cuenta_clabe
    assert first == again != other
    assert is_valid_clabe(first) and is_valid_clabe(other)
    created = facti.new_request(request(to_email="uno@cliente.mx", payment_ways_ids=[1]))
    assert created.references[0].stp_cuenta_clabe == first
    with pytest.raises(FactiRejected, match="empresa 99"):
        facti.stp_client_clabe(99, "uno@cliente.mx")


def test_delete_only_pending_and_mark_paid_only_once(facti: FactiClient) -> None:
    pending = facti.new_request(request()).request_id
    paid = facti.new_request(request(folio="2")).request_id
    assert facti.mark_paid(paid).status == 1
    with pytest.raises(FactiRejected, match="solo se puede cambiar de pendiente a pagado"):
        facti.mark_paid(paid)
    with pytest.raises(FactiRejected, match="No es posible eliminar"):
        facti.delete(1, paid)
    assert facti.delete(1, pending).id == pending
    with pytest.raises(FactiRejected, match="No existe el pago"):
        facti.get_payment(pending)


def test_search_filters_and_limit(facti: FactiClient, sim_url: str) -> None:
    httpx.post(f"{sim_url}/_seed_payments", json={"count": 450})
    ids = [facti.new_request(request(folio=str(n))).request_id for n in range(3)]
    facti.mark_paid(ids[1])
    assert len(facti.company_payments(1)) == 200
    assert [p.id for p in facti.company_payments(1, since_id=10, max_id=12)] == [10, 11, 12]
    paid = facti.company_payments(1, status=1)
    assert [p.id for p in paid] == [ids[1]] and paid[0].confirmed_from == "stp"
    assert paid[0].amount_received == Decimal("242.84")
    assert [p.id for p in facti.company_payments(1, from_payment_date="2000-01-01 00:00:00")] == [ids[1]]
    with pytest.raises(ValueError, match="limit"):
        facti.company_payments(1, limit=201)
    with pytest.raises(FactiRejected, match="Y-m-d H:i:s"):
        facti.company_payments(1, from_payment_date="2020-01-01")
    every = [p.id for p in facti.iter_company_payments(1, page_size=37)]
    assert every == list(range(1, 454))


def test_transport_failures_are_classified(facti: FactiClient, sim_url: str) -> None:
    httpx.post(f"{sim_url}/_faults", json={"error_next": 1})
    with pytest.raises(SurelyNotSent):
        facti.new_request(request())
    httpx.post(f"{sim_url}/_faults", json={"drop_next": 1})
    with pytest.raises(MaybeSent):
        facti.new_request(request(folio="dropped"))
    # The dropped one was processed: it is at Facti.
    assert [p.folio for p in facti.company_payments(1)] == ["dropped"]
