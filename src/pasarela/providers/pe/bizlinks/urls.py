"""Bizlinks OSE billService endpoints (seed 004 §4.1, §5.1). Simulator mode uses
settings.simulator_url("bizlinks") + "/ol-ti-itcpe/billService"."""

SERVICE_PATH = "/ol-ti-itcpe/billService"
URLS = {
    "test": "https://osetesting.bizlinks.com.pe/ol-ti-itcpe/billService",
    "production": "https://ose.bizlinks.com.pe/ol-ti-itcpe/billService",
}
