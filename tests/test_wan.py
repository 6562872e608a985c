"""The WAN emulator delays, limits and forwards real TCP traffic, in order and intact."""

import os
import socket
import socketserver
import statistics
import threading
import time

import pytest

from mooseng.wan import Proxy, Shape, main, parse_link


class _Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while data := self.request.recv(65536):
            self.request.sendall(data)


@pytest.fixture
def echo():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address
    server.shutdown()
    server.server_close()


def _proxy(echo, shape):
    proxy = Proxy(shape, seed=1)
    port = proxy.add(("127.0.0.1", 0), echo)
    return proxy, port


def _round_trips(port, count=10):
    times = []
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for number in range(count):
            began = time.monotonic()
            sock.sendall(bytes([number]))
            assert sock.recv(1) == bytes([number])
            times.append(time.monotonic() - began)
    return times


def test_a_round_trip_takes_the_delay_each_way(echo):
    proxy, port = _proxy(echo, Shape(delay=0.05))
    try:
        times = _round_trips(port)
    finally:
        proxy.close()
    assert min(times) >= 0.1, times
    assert statistics.median(times) < 0.2, times


def test_jitter_varies_the_delay_within_its_bounds(echo):
    proxy, port = _proxy(echo, Shape(delay=0.04, jitter=0.02))
    try:
        times = _round_trips(port, 20)
    finally:
        proxy.close()
    assert min(times) >= 0.04 and max(times) - min(times) > 0.005, times


def test_bytes_arrive_intact_and_in_order_under_jitter(echo):
    proxy, port = _proxy(echo, Shape(delay=0.005, jitter=0.005))
    data = os.urandom(2 * 1024 * 1024)
    received = bytearray()
    try:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sender = threading.Thread(target=sock.sendall, args=(data,))
            sender.start()
            while len(received) < len(data):
                received += sock.recv(1 << 20)
            sender.join()
    finally:
        proxy.close()
    assert bytes(received) == data


def test_the_bandwidth_limit_holds_a_transfer_back(echo):
    proxy, port = _proxy(echo, Shape(bandwidth=2e6))
    data = os.urandom(1_000_000)
    try:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            began = time.monotonic()
            threading.Thread(target=sock.sendall, args=(data,), daemon=True).start()
            received = 0
            while received < len(data):
                received += len(sock.recv(1 << 20))
            took = time.monotonic() - began
    finally:
        proxy.close()
    assert took >= 0.4, f"1 MB at 2 MB/s came back in {took:.2f} s"


def test_the_end_of_a_stream_is_passed_on(echo):
    proxy, port = _proxy(echo, Shape(delay=0.01))
    try:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"last words")
            sock.shutdown(socket.SHUT_WR)
            received = b""
            while chunk := sock.recv(100):
                received += chunk
    finally:
        proxy.close()
    assert received == b"last words"


@pytest.mark.parametrize("text, message", [
    ("127.0.0.1:7001", "not a link"),
    ("127.0.0.1:7001=nowhere", "not an address: 'nowhere'"),
    ("127.0.0.1:99999=127.0.0.1:1", "not an address: '127.0.0.1:99999'"),
])
def test_a_bad_link_is_named(text, message):
    with pytest.raises(ValueError, match=message):
        parse_link(text)


def test_the_command_refuses_a_negative_delay_with_a_clear_line(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["--link", "127.0.0.1:0=127.0.0.1:1", "--delay", "-5"])
    assert exit.value.code == 2
    assert "delay, jitter and bandwidth must be zero or more" in capsys.readouterr().err
