"""Servers and data makers shared by the tests, the benchmarks and `pixmo demo`: real servers on 127.0.0.1."""
