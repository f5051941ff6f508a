"""Imports an extension that refuses subinterpreters (like numpy): main workers only."""
import _fastrt_test_legacy


def answer(_body):
    return str(_fastrt_test_legacy.answer())
