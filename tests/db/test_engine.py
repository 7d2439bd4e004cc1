"""Pooled connections notice a vanished peer within a minute, on both ends."""

from __future__ import annotations

from sqlalchemy import Engine, text


def test_connections_keep_tcp_alive_on_the_client_and_the_server(engine: Engine) -> None:
    with engine.connect() as conn:
        server = {
            name: conn.execute(text(f"SHOW {name}")).scalar_one()
            for name in ("tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_keepalives_count")
        }
        driver = conn.connection.driver_connection
        assert driver is not None
        client = {k: v for k, v in driver.info.get_parameters().items() if k.startswith("keepalives")}
    assert server == {"tcp_keepalives_idle": "30", "tcp_keepalives_interval": "10", "tcp_keepalives_count": "3"}
    assert client == {"keepalives": "1", "keepalives_idle": "30", "keepalives_interval": "10", "keepalives_count": "3"}
