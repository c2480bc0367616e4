"""Starts moto's server (the local AWS emulator) on a free loopback port for one test process.

Prints "MOTO_PORT <port>" once ready, then serves until its standard input closes, which happens
when the test process that started it exits, however it exits.
"""
import logging
import sys

from moto.server import ThreadedMotoServer

logging.getLogger("werkzeug").setLevel(logging.ERROR)
server = ThreadedMotoServer("127.0.0.1", 0, verbose=False)
server.start()
print(f"MOTO_PORT {server.get_host_and_port()[1]}", flush=True)
sys.stdin.read()
server.stop()
