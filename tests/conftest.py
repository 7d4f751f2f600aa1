"""Shared, namespaced fixtures for the whole suite (keep additions small; helpers live in tests/*.py).

Having this file at tests/ puts tests/ on sys.path, so test modules can import helpers such as
``service_testkit``.
"""
