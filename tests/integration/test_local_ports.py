"""The local stack's port check binds a real socket, so it lives here and not in tests/unit."""

import pytest


def test_a_taken_port_is_reported_with_the_variable_to_change() -> None:
    import socket

    from calsync_dev.local.config import PortInUse, check_port_free

    # Given something already listens on a port
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        # Then the stack refuses to start with a message naming the port and the variable
        with pytest.raises(PortInUse, match=f"port {port} \\(API\\) is already in use.*CALSYNC_API_PORT"):
            check_port_free("127.0.0.1", port, "API", "CALSYNC_API_PORT")
